// Exact scalar dequantization of every weight scheme the importer reads. This
// is the definition the SIMD kernels and the tests are checked against.
#pragma once

#include "compiler/import/ModelDesc.h"

#include <cstdint>

namespace mcc {

// GGUF blocks: one block (32 or 256 values) from its bytes.
void dequantBlockQ8_0(const uint8_t *b, float *y);
void dequantBlockQ4_0(const uint8_t *b, float *y);
void dequantBlockQ4_1(const uint8_t *b, float *y);
void dequantBlockQ4_K(const uint8_t *b, float *y);
void dequantBlockQ5_K(const uint8_t *b, float *y);
void dequantBlockQ6_K(const uint8_t *b, float *y);

// Row `row` of the weight's logical [rows, cols] matrix (row 0 of a vector).
void dequantizeRow(const Weight &w, int64_t row, float *out);

} // namespace mcc
