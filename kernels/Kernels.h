// Matrix-vector products over every weight format mcc reads.
//
// Activations for the fast paths are quantized per block of 32 to int8 with
// one float scale (QBlock8); the weight formats with an int8-friendly block
// of 32 (Q4_0, Q4_1, Q8_0) take those directly. Every other format goes
// through the exact scalar dequantization and an f32 dot product.
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
};

const DotTable &genericTable();
const DotTable *avx2Table(); // nullptr when not built for this architecture
// The best table this CPU runs; MCC_ISA=generic forces the reference.
const DotTable &bestTable();

// y[r] = W[r, :] . x for r in [r0, r1). xq is x quantized (for fast paths),
// xf is x itself; scratch holds one dequantized row (cols floats).
void matvecRows(const DotTable &t, const Weight &w, const QBlock8 *xq, const float *xf, float *y, int64_t r0,
                int64_t r1, float *scratch);

} // namespace mcc::kernels
