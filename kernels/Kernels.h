// Matrix-vector products over every weight format mcc reads.
//
// Block formats of 32 (Q4_0, Q4_1, Q8_0) have fast paths in two activation
// precisions: f32 (the default: weights are expanded in registers, so the
// result is the exact product up to summation order) and int8 (activations
// quantized per block of 32 with one float scale, QBlock8: fewer operations,
// about 1e-3 relative error per row). Every other format goes through the
// exact scalar dequantization and an f32 dot product.
//
// Each ISA family provides the same entry points (generic/ and avx2/); the
// dispatcher picks one at start-up from the CPU's features.
#pragma once

#include "compiler/import/ModelDesc.h"

#include <cstdint>

namespace mcc::kernels {

struct QBlock8 {
  float d;     // scale: x ~= d * q
  float dsum;  // d * sum(q): Q4_1's min term needs it
  int8_t q[32];
};

// Which fast path a weight has; None means dequantize-and-dot.
enum class Path : uint8_t { None, Q4_0, Q4_1, Q8_0 };
Path pathFor(const Weight &w);

struct DotTable {
  const char *isa;
  void (*quantize)(const float *x, QBlock8 *out, int64_t n); // n % 32 == 0
  float (*dotQ4_0)(const uint8_t *w, const QBlock8 *x, int64_t nblocks);
  float (*dotQ4_1)(const uint8_t *w, const QBlock8 *x, int64_t nblocks);
  float (*dotQ8_0)(const uint8_t *w, const QBlock8 *x, int64_t nblocks);
  float (*dotF32)(const float *a, const float *b, int64_t n);
  // f32 activations: x, and xsum[b] = sum of x over block b (for the offsets).
  float (*dotQ4_0F)(const uint8_t *w, const float *x, const float *xsum, int64_t nblocks);
  float (*dotQ4_1F)(const uint8_t *w, const float *x, const float *xsum, int64_t nblocks);
  float (*dotQ8_0F)(const uint8_t *w, const float *x, int64_t nblocks);
};

// The activation vector of one matvec, prepared for whichever path runs.
struct Activation {
  const float *x = nullptr;
  const float *xsum = nullptr;   // per block of 32 (f32 paths)
  const QBlock8 *xq = nullptr;   // int8 paths; null selects the f32 paths
};
void blockSums(const float *x, float *out, int64_t n); // n % 32 == 0

const DotTable &genericTable();
const DotTable *avx2Table(); // nullptr when not built for this architecture
// The best table this CPU runs; MCC_ISA=generic forces the reference.
const DotTable &bestTable();

// y[r] = W[r, :] . x for r in [r0, r1); scratch holds one dequantized row.
void matvecRows(const DotTable &t, const Weight &w, const Activation &a, float *y, int64_t r0, int64_t r1,
                float *scratch);

} // namespace mcc::kernels
