// Maps the running executable and reads the model payload behind its code.
#pragma once

#include "compiler/import/ModelDesc.h"
#include "runtime/Executor.h"

#include <memory>
#include <string>

namespace mcc {

struct LoadedModel {
  ModelDesc desc;
  CodeView code; // code.text is null when the executable has no generated code
  const uint8_t *map = nullptr;
  size_t mapSize = 0;
  ~LoadedModel();
};

// PATH defaults to /proc/self/exe. Throws mcc::Error naming the file.
std::unique_ptr<LoadedModel> loadModel(const std::string &path = "/proc/self/exe");

} // namespace mcc
