#include "kernels/Kernels.h"
#include "compiler/import/Dequant.h"

#include <cstdlib>
#include <cstring>

namespace mcc::kernels {

Path pathFor(const Weight &w) {
  switch (w.quant.format) {
  case WeightFormat::Q4_0: return Path::Q4_0;
  case WeightFormat::Q4_1: return Path::Q4_1;
  case WeightFormat::Q8_0: return Path::Q8_0;
  default: return Path::None;
  }
}

const DotTable &bestTable() {
  static const DotTable *t = [] {
    const char *force = std::getenv("MCC_ISA");
    if (force && std::strcmp(force, "generic") == 0)
      return &genericTable();
    if (const DotTable *a = avx2Table())
      return a;
    return &genericTable();
  }();
  return *t;
}

void blockSums(const float *x, float *out, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) {
    float s = 0;
    for (int i = 0; i < 32; ++i)
      s += x[b * 32 + i];
    out[b] = s;
  }
}

void matvecRows(const DotTable &t, const Weight &w, const Activation &a, float *y, int64_t r0, int64_t r1,
                float *scratch) {
  int64_t K = w.cols(), nb = K / 32;
  const uint8_t *base = w.data.data;
  const float *xf = a.x;
  const QBlock8 *xq = a.xq;
  switch (pathFor(w)) {
  case Path::Q4_0:
    for (int64_t r = r0; r < r1; ++r)
      y[r] = xq ? t.dotQ4_0(base + r * nb * 18, xq, nb) : t.dotQ4_0F(base + r * nb * 18, xf, a.xsum, nb);
    return;
  case Path::Q4_1:
    for (int64_t r = r0; r < r1; ++r)
      y[r] = xq ? t.dotQ4_1(base + r * nb * 20, xq, nb) : t.dotQ4_1F(base + r * nb * 20, xf, a.xsum, nb);
    return;
  case Path::Q8_0:
    for (int64_t r = r0; r < r1; ++r)
      y[r] = xq ? t.dotQ8_0(base + r * nb * 34, xq, nb) : t.dotQ8_0F(base + r * nb * 34, xf, nb);
    return;
  case Path::None:
    if (w.quant.format == WeightFormat::F32) {
      const float *m = reinterpret_cast<const float *>(base);
      for (int64_t r = r0; r < r1; ++r)
        y[r] = t.dotF32(m + r * K, xf, K);
      return;
    }
    for (int64_t r = r0; r < r1; ++r) {
      dequantizeRow(w, r, scratch);
      y[r] = t.dotF32(scratch, xf, K);
    }
    return;
  }
}

} // namespace mcc::kernels
