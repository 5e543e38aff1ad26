// The ggml tensor types a GGUF file may name: their block geometry, and which
// of them mcc reads.
#pragma once

#include "format/ModelDesc.h"

#include <cstdint>
#include <optional>

namespace mcc {

struct GgmlType {
  const char *name = nullptr; // nullptr: an id this table does not know
  int block = 0;              // elements per block
  int bytes = 0;              // bytes per block (0: geometry unknown here)
  std::optional<WeightFormat> format; // set when mcc reads it
};

// Type ids from the GGUF spec; unknown ids give a GgmlType with name nullptr.
GgmlType ggmlType(uint32_t id);

} // namespace mcc
