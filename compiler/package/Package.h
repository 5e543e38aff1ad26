// The last stage of `mcc compile`: the runtime executable, the model's
// tensors and a header describing them, written as one file.
#pragma once

#include "format/ModelDesc.h"
#include "format/Payload.h"

#include <functional>
#include <string>

namespace mcc {

struct PackageStats {
  uint64_t runtime_bytes = 0, weight_bytes = 0, code_bytes = 0, header_bytes = 0, file_bytes = 0;
  uint64_t data_bytes = 0, stored_data_bytes = 0; // the weight data unpacked, and as stored
  std::string model_hash;
};

// Writes OUT atomically (a temporary name, then rename). Throws mcc::Error.
// How the weights are stored: raw (page-aligned, mapped straight from the
// file at start-up) or zstd (chunks decompressed in parallel at start-up).
struct PackOptions {
  bool zstd = false;
  int level = 3;
  uint64_t chunk_bytes = 4 << 20;
  int pad_gib = 0; // zeros before the first tensor (a test hook for >4 GiB payloads)
  // 4-bit matrices in panels of 16 rows (format/Panel.h): for runtimes whose
  // every kernel table reads them (x86-64).
  bool panels = false;
  // The executable's default --precision ("fast" or "exact").
  std::string precision = "fast";
  // Called after each weight is written: source bytes done of the total.
  std::function<void(uint64_t done, uint64_t total)> progress;
};

// codes: the generated machine code to carry, one version per target, best
// first (none: the runtime's own forward pass runs instead).
PackageStats writeExecutable(const ModelDesc &m, const std::string &runtimePath, const std::string &out,
                             const std::vector<CodeView> &codes = {}, const PackOptions &pack = {});

// Checks that the runtime can run this model (tokenizer kind, rope scaling),
// so `mcc compile` fails instead of writing an executable that would.
void checkRuntimeSupport(const ModelDesc &m);

} // namespace mcc
