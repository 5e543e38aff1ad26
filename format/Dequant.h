// Exact scalar dequantization of every weight scheme the importer reads. This
// is the definition the SIMD kernels and the tests are checked against.
#pragma once

#include "format/ModelDesc.h"

#include <cstdint>

namespace mcc {

// GGUF blocks: one block (32 or 256 values) from its bytes.
void dequantBlockQ8_0(const uint8_t *b, float *y);
void dequantBlockQ4_0(const uint8_t *b, float *y);
void dequantBlockQ4_1(const uint8_t *b, float *y);
void dequantBlockQ4_K(const uint8_t *b, float *y);
void dequantBlockQ5_K(const uint8_t *b, float *y);
void dequantBlockQ6_K(const uint8_t *b, float *y);
// mcc's repacked blocks of 32 (ModelDesc.h): f32 d, f32 m, then q.
void dequantBlockPK4(const uint8_t *b, float *y);
void dequantBlockPK8(const uint8_t *b, float *y);
void dequantBlockPK4_128(const uint8_t *b, float *y); // 128 weights
constexpr int kPK4Bytes = 24, kPK8Bytes = 40, kPK4_128Bytes = 72;

// Q4_K: the eight sub-blocks' scales d and offsets m (w = d * q - m) and the
// 256 values q, in element order.
void unpackQ4_K(const uint8_t *b, float d[8], float m[8], uint8_t q[256]);

// GPTQ/AWQ: element r of logical row c is s * (q - z), q and z unsigned
// integers of the weight's bits, g the group.
struct IntegerElement {
  int32_t q, z;
  int64_t g;
  float s;
};
void integerRow(const Weight &w, int64_t c, IntegerElement *out);

// Row `row` of the weight's logical [rows, cols] matrix (row 0 of a vector).
void dequantizeRow(const Weight &w, int64_t row, float *out);

} // namespace mcc
