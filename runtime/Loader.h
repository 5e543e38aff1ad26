// Maps the running executable and reads the model payload behind its code.
#pragma once

#include "format/MappedFile.h"
#include "format/ModelDesc.h"
#include "format/Payload.h"
#include "runtime/Payload.h"
#include "runtime/Unpack.h"

#include <memory>
#include <string>

namespace mcc {

struct LoadedModel {
  std::unique_ptr<MappedFile> file; // declared first: destroyed last, after every view into it
  OwnedBytes unpacked;              // the weights, when they were zstd-packed
  ModelDesc desc;
  CodeView code; // the version this CPU runs; code.text is null when there is no generated code
  std::vector<std::string> targets; // every version the executable carries, best first
  std::string model_hash;
  bool exact = false; // compiled with --precision exact: the default here
};

// Maps PATH and checks its payload (format/Payload.h). Throws mcc::Error
// naming the file.
std::unique_ptr<LoadedModel> loadModel(const std::string &path, const PayloadOptions &opt = {});

// This executable's own file: /proc/self/exe, or where there is no /proc (a
// bare chroot, a minimal container) the path it was started by.
std::string selfPath();

} // namespace mcc
