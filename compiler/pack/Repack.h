// Weights into the layouts the runtime's kernels read (the compile-time half
// of "few kernels, many formats"): every 4-bit scheme with one scale and one
// offset per 32 weights — GPTQ, AWQ, Q4_K — becomes PK4 (PK4_128 when
// every 128 share one: GPTQ/AWQ at group 128 or per channel), 8-bit GPTQ becomes
// PK8 (ModelDesc.h). GPTQ act-order becomes a column permutation, stored
// beside the weight, so each block of 32 shares one group.
//
// Exact: the repacked weight dequantizes to the same floats, bit for bit,
// whenever the source scales are f16 or bf16 (test/pack checks every
// fixture).
#pragma once

#include "format/ModelDesc.h"

#include <optional>
#include <vector>

namespace mcc {

struct PackedWeight {
  Weight weight;               // format PK4/PK8; views into the buffers below
  std::vector<uint8_t> data;   // the blocks, row after row
  std::vector<uint8_t> perm;   // int32 per column, act-order only
};

// The repacked weight, or nullopt when w keeps its own format (formats with
// their own kernels, or shapes that do not fit blocks of 32).
std::optional<PackedWeight> repack(const Weight &w);

// w (as repacked, or a GGUF Q4_0/Q4_1) with its rows in panels of 16
// (format/Panel.h), or nullopt when its format has no panel form. The
// weight's other views (perm) still point at w's buffers.
std::optional<PackedWeight> toPanels(const Weight &w);

// The format repack(w) produces, or w's own: decided from the description
// and g_idx alone, without packing (for the graph and reports).
WeightFormat packedFormat(const Weight &w);

// Bytes of w's values in the layout the kernels read (repacked or as
// stored), without packing: what one pass over the weight reads.
uint64_t packedBytes(const Weight &w);

// Whether repack(w) stores a column permutation (act-order), which the
// activations must follow: the generated code gathers them first.
bool packedPermuted(const Weight &w);

} // namespace mcc
