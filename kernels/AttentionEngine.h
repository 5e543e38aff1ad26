// Attention of one query head over a span of cached positions, written once
// over an ISA's vector traits (TileEngine.h) and instantiated per ISA:
//   s[p] = q · k[p] * scale, a = softmax(s), out = sum_p a[p] v[p]
// k[p] and v[p] are f16 rows `stride` halves apart (the KV cache keeps f16,
// as most engines do: half the bytes to read per decoded token). The ISA
// traits add V loadHalf(const uint16_t *). Included by the ISA files.
#pragma once

#include <cmath>
#include "format/Half.h"

#include <cstdint>

namespace mcc::kernels {

template <class I> struct AttentionEngine {
  using V = typename I::V;
  static constexpr int W = I::W;
  static constexpr int kMaxVectors = 8; // head_dim up to 8 W keeps out[] in registers

  static float dotTail(const float *a, const uint16_t *b, int64_t from, int64_t n) {
    float s = 0;
    for (int64_t e = from; e < n; ++e)
      s += a[e] * fp16ToFloat(b[e]);
    return s;
  }

  // Four positions at a time: four independent FMA chains.
  static void scores(const float *q, const uint16_t *k, int64_t stride, int64_t n, int64_t hd, float scale, float *s) {
    int64_t full = hd / W * W, p = 0;
    for (; p + 4 <= n; p += 4) {
      V acc[4] = {I::zero(), I::zero(), I::zero(), I::zero()};
      for (int64_t e = 0; e < full; e += W) {
        V qe = I::load(q + e);
        for (int j = 0; j < 4; ++j)
          acc[j] = I::fma(qe, I::loadHalf(k + (p + j) * stride + e), acc[j]);
      }
      for (int j = 0; j < 4; ++j)
        s[p + j] = (I::sum(acc[j]) + dotTail(q, k + (p + j) * stride, full, hd)) * scale;
    }
    for (; p < n; ++p) {
      V acc = I::zero();
      for (int64_t e = 0; e < full; e += W)
        acc = I::fma(I::load(q + e), I::loadHalf(k + p * stride + e), acc);
      s[p] = (I::sum(acc) + dotTail(q, k + p * stride, full, hd)) * scale;
    }
  }

  // out = sum_p a[p] v[p], accumulated in registers when the head fits.
  template <int NV> static void weighted(const float *a, const uint16_t *v, int64_t stride, int64_t n, float *out) {
    V acc[NV];
    for (int i = 0; i < NV; ++i)
      acc[i] = I::zero();
    for (int64_t p = 0; p < n; ++p) {
      V ap = I::broadcast(a[p]);
      for (int i = 0; i < NV; ++i)
        acc[i] = I::fma(ap, I::loadHalf(v + p * stride + i * W), acc[i]);
    }
    for (int i = 0; i < NV; ++i)
      I::store(out + i * W, acc[i]);
  }

  static void run(const float *q, const uint16_t *k, const uint16_t *v, int64_t stride, int64_t n, int64_t hd, float scale,
                  float *s, float *out) {
    scores(q, k, stride, n, hd, scale, s);
    float mx = -INFINITY;
    for (int64_t p = 0; p < n; ++p)
      mx = s[p] > mx ? s[p] : mx;
    float sum = 0;
    for (int64_t p = 0; p < n; ++p) {
      s[p] = std::exp(s[p] - mx);
      sum += s[p];
    }
    for (int64_t p = 0; p < n; ++p)
      s[p] /= sum;
    if (hd % W == 0 && hd / W <= kMaxVectors) {
      switch (hd / W) {
      case 1: return weighted<1>(s, v, stride, n, out);
      case 2: return weighted<2>(s, v, stride, n, out);
      case 4: return weighted<4>(s, v, stride, n, out);
      case 8: return weighted<8>(s, v, stride, n, out);
      default: break;
      }
    }
    for (int64_t e = 0; e < hd; ++e)
      out[e] = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t e = 0; e < hd; ++e)
        out[e] += s[p] * fp16ToFloat(v[p * stride + e]);
  }
};

} // namespace mcc::kernels
