// Attention of query heads over a span of cached positions, written once
// over an ISA's vector traits (TileEngine.h) and instantiated per ISA:
//   s[p] = q · k[p] * scale, a = softmax(s), out = sum_p a[p] v[p]
// k[p] and v[p] are f16 rows `stride` halves apart (the KV cache keeps f16,
// as most engines do: half the bytes to read per decoded token). The ISA
// traits add V loadHalf(const uint16_t *). Included by the ISA files.
#pragma once

#include "format/Half.h"

#include <algorithm>
#include <cmath>
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

  // One head: scores, softmax, weighted sum (s: n floats).
  static void one(const float *q, const uint16_t *k, const uint16_t *v, int64_t stride, int64_t n, int64_t hd,
                  float scale, float *s, float *out) {
    scores(q, k, stride, n, hd, scale, s);
    softmax(s, n);
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

  static void softmax(float *s, int64_t n) {
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
  }

  // G heads sharing one K/V head (grouped-query attention): each cached
  // row is loaded and widened from f16 once for all of them.
  template <int NV>
  static void group(const float *q, int64_t G, const uint16_t *k, const uint16_t *v, int64_t stride, int64_t n,
                    float scale, float *s, float *out) {
    constexpr int64_t hd = NV * W;
    for (int64_t p = 0; p < n; ++p) {
      V kv[NV];
      for (int i = 0; i < NV; ++i)
        kv[i] = I::loadHalf(k + p * stride + i * W);
      for (int64_t g = 0; g < G; ++g) {
        V acc = I::fma(I::load(q + g * hd), kv[0], I::zero());
        for (int i = 1; i < NV; ++i)
          acc = I::fma(I::load(q + g * hd + i * W), kv[i], acc);
        s[g * n + p] = I::sum(acc) * scale;
      }
    }
    for (int64_t g = 0; g < G; ++g)
      softmax(s + g * n, n);
    // CG heads' sums in registers at a time.
    constexpr int CG = NV >= 8 ? 1 : NV >= 4 ? 3 : 4;
    for (int64_t g0 = 0; g0 < G; g0 += CG) {
      int cg = int(std::min<int64_t>(CG, G - g0));
      V acc[CG][NV];
      for (int g = 0; g < CG; ++g)
        for (int i = 0; i < NV; ++i)
          acc[g][i] = I::zero();
      for (int64_t p = 0; p < n; ++p) {
        V vv[NV];
        for (int i = 0; i < NV; ++i)
          vv[i] = I::loadHalf(v + p * stride + i * W);
        for (int g = 0; g < CG; ++g)
          if (g < cg) {
            V a = I::broadcast(s[(g0 + g) * n + p]);
            for (int i = 0; i < NV; ++i)
              acc[g][i] = I::fma(a, vv[i], acc[g][i]);
          }
      }
      for (int g = 0; g < cg; ++g)
        for (int i = 0; i < NV; ++i)
          I::store(out + (g0 + g) * hd + i * W, acc[g][i]);
    }
  }

  // The KernelTable entry: G query heads (q and out: G * hd floats, head
  // after head) over the same n cached positions; s holds G * n floats.
  static void run(const float *q, int64_t G, const uint16_t *k, const uint16_t *v, int64_t stride, int64_t n,
                  int64_t hd, float scale, float *s, float *out) {
    if (G > 1 && hd % W == 0) {
      switch (hd / W) {
      case 1: return group<1>(q, G, k, v, stride, n, scale, s, out);
      case 2: return group<2>(q, G, k, v, stride, n, scale, s, out);
      case 4: return group<4>(q, G, k, v, stride, n, scale, s, out);
      case 8: return group<8>(q, G, k, v, stride, n, scale, s, out);
      case 16: return group<16>(q, G, k, v, stride, n, scale, s, out);
      default: break;
      }
    }
    for (int64_t g = 0; g < G; ++g)
      one(q + g * hd, k, v, stride, n, hd, scale, s + g * n, out + g * hd);
  }
};

} // namespace mcc::kernels
