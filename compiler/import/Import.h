// The one entry point of checkpoint import: any supported path in, the
// canonical ModelDesc out, or an mcc::Error naming what is wrong.
#pragma once

#include "format/ModelDesc.h"

#include <string>

namespace mcc {

// PATH: a .gguf file; a .safetensors file, its index, or its directory.
ModelDesc importModel(const std::string &path);

ModelDesc importGguf(const std::string &path);
ModelDesc importSafetensors(const std::string &path);

} // namespace mcc
