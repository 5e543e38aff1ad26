// Runs the code mcc generated for a model (GeneratedAbi.h): maps the payload's
// machine code executable, gives it the McApi table and a workspace, and
// splits a run of tokens over its entry points (prefill64/16/4, decode; score
// for every position's logits). The operations themselves are Forward's.
#pragma once

#include "runtime/Forward.h"
#include "format/Abi.h"
#include "format/Payload.h"
#include "runtime/OwnedBytes.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mcc {

class Executor {
public:
  // Throws mcc::Error if the code is for another architecture or incomplete.
  Executor(Forward &fwd, const CodeView &code);
  ~Executor();
  Executor(const Executor &) = delete;
  Executor &operator=(const Executor &) = delete;

  // As Forward::forward.
  const float *forward(const int32_t *tokens, int n, int pos, bool allLogits);

private:
  const float *call(McEntry e, const int32_t *tokens, int pos);

  Forward &fwd_;
  void *code_ = nullptr;
  size_t codeBytes_ = 0;
  struct Batch {
    McEntry fn;
    int rows;
  };
  std::vector<Batch> batches_; // the entry points a run of tokens goes through, largest first
  Batch score_{};              // the one that returns every row's logits
  std::vector<McRegion> regions_; // mcc_region_<k> at index k
  OwnedBytes workspace_; // page-aligned: the plan's 64-byte offsets stay cache-line aligned
  std::vector<float> logits_;
};

} // namespace mcc
