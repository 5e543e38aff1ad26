// The scalar reference of the int8-activation products (QuantizedActs.h):
// what the SIMD versions are checked against, block by block in order.
#include "kernels/Kernels.h"
#include "kernels/QuantizedActs.h"
#include "format/Panel.h"

#include <vector>

namespace mcc::kernels {

namespace {

struct Generic {
  template <WeightFormat F, bool Residual>
  static void run(const uint8_t *w, const float *x, float *y, int64_t K, int64_t T, int64_t ldy, int64_t r0,
                  int64_t r1) {
    using L = IntLayout<F>;
    constexpr int subs = L::kWeights / 32;
    int64_t nb = K / L::kWeights, ns = K / 32, rowBytes = nb * L::kBytes;
    std::vector<ActBlock> acts(size_t(T * ns));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t s = 0; s < ns; ++s)
        quantizeActBlock(x + t * K + s * 32, acts[size_t(t * ns + s)], Residual);
    IntSub ws;
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t t = 0; t < T; ++t) {
        float acc = 0;
        for (int64_t b = 0; b < nb; ++b)
          for (int s = 0; s < subs; ++s) {
            intSub<F>(w + r * rowBytes + b * L::kBytes, s, ws);
            const ActBlock &a = acts[size_t(t * ns + b * subs + s)];
            int32_t lo = 0, hi = 0, rlo = 0, rhi = 0;
            for (int j = 0; j < 16; ++j) {
              lo += int32_t(ws.q[j]) * a.q[j];
              hi += int32_t(ws.q[j + 16]) * a.q[j + 16];
              rlo += int32_t(ws.q[j]) * a.r[j];
              rhi += int32_t(ws.q[j + 16]) * a.r[j + 16];
            }
            acc += ws.d * a.d[0] * (float(lo) + float(rlo) * kResidualScale);
            acc += ws.d * a.d[1] * (float(hi) + float(rhi) * kResidualScale);
            acc += ws.m * a.sum;
          }
        y[t * ldy + r] = acc;
      }
  }
};

// Panel weights (format/Panel.h): each row gathered back to its row-major
// blocks, then the above, so the panel kernels are checked against the very
// numbers the row-major ones give.
struct GenericPanels {
  template <WeightFormat F, bool Residual>
  static void run(const uint8_t *w, const float *x, float *y, int64_t K, int64_t T, int64_t ldy, int64_t r0,
                  int64_t r1) {
    using L = IntLayout<F>;
    const int64_t nb = K / L::kWeights;
    std::vector<uint8_t> row(size_t(nb * L::kBytes));
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t b = 0; b < nb; ++b)
        gatherBlock(F, w, K, r, b, row.data() + b * L::kBytes);
      Generic::run<F, Residual>(row.data(), x, y + r, K, T, ldy, 0, 1);
    }
  }
};

} // namespace

void fillGenericInt8(KernelTable &t) {
  fillInt8<Generic>(t);
  fillPanels<GenericPanels>(t);
}

} // namespace mcc::kernels
