// One model in memory with its KV cache: feeds tokens through the generated
// code (or the runtime's forward pass) and generates text. What -p, --chat,
// bench and the test hooks all run on.
#pragma once

#include "runtime/Executor.h"
#include "runtime/Forward.h"
#include "runtime/Loader.h"
#include "runtime/Sampler.h"
#include "runtime/ThreadPool.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace mcc {

class Session {
public:
  // Throws mcc::Error when the context's KV cache does not fit in the memory
  // this machine has available.
  Session(const LoadedModel &lm, int threads, int ctx, bool interpret, bool exact = false,
          kernels::KvType kv = kernels::KvType::F16);

  const ModelDesc &m;
  Tokenizer tok;
  ThreadPool pool;
  Forward fwd;
  std::unique_ptr<Executor> gen; // the model's generated code, when it has some
  std::vector<int32_t> history;  // every token in the KV cache, in order

  bool isStop(int32_t id) const;

  // Feeds tokens into the cache; returns the logits after the last one (or
  // after every one, with allLogits).
  const float *feed(const std::vector<int32_t> &ids, bool allLogits = false);

  // Generates up to n tokens (n < 0: no limit), streaming their text; stops
  // at a stop token or a full context. Returns how many were sampled.
  int generate(const float *logits, int n, Sampler &s, std::ostream &out);

  // A one-turn prompt: through the chat template unless raw.
  std::vector<int32_t> promptTokens(const std::string &text, bool raw) const;
};

// Bytes of a KV cache of ctx positions holding `kv` (whole key blocks, as
// Forward allocates it).
uint64_t kvCacheBytes(const HyperParams &hp, int64_t ctx, kernels::KvType kv = kernels::KvType::F16);
// Throws mcc::Error unless `sequences` KV caches of ctx positions fit in the
// memory this machine has available.
void checkKvFits(const HyperParams &hp, int64_t ctx, int sequences, kernels::KvType kv = kernels::KvType::F16);

} // namespace mcc
