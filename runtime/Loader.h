// Maps the running executable and reads the model payload behind its code.
#pragma once

#include "compiler/import/ModelDesc.h"
#include "runtime/Executor.h"
#include "runtime/Payload.h"
#include "runtime/Unpack.h"

#include <memory>
#include <string>

namespace mcc {

struct LoadedModel {
  ModelDesc desc;
  CodeView code; // code.text is null when the executable has no generated code
  OwnedBytes unpacked; // the weights, when they were zstd-packed
  std::string model_hash;
  const uint8_t *map = nullptr;
  size_t mapSize = 0;
  ~LoadedModel();
};

// Maps PATH and checks its payload (Payload.h). Throws mcc::Error naming
// the file.
std::unique_ptr<LoadedModel> loadModel(const std::string &path, const PayloadOptions &opt = {});

// This executable's own file: /proc/self/exe, or where there is no /proc (a
// bare chroot, a minimal container) the path it was started by.
std::string selfPath();

} // namespace mcc
