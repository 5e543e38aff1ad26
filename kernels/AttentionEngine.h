// Attention of query heads over a span of cached positions, written once
// over an ISA's vector traits (TileEngine.h) and instantiated per ISA:
//   s[p] = q · k[p] * scale, a = softmax(s), out = sum_p a[p] v[p]
// k[p] and v[p] are f16 rows `stride` halves apart (the KV cache keeps f16,
// as most engines do: half the bytes to read per decoded token). The ISA
// traits add to TileEngine.h's: V loadHalf(const uint16_t *); V sub, mul, div,
// max(V, V); float hmax(V); V exp(V) (expPoly, ExpPoly.h); and
// V reduce(const V acc[W]), whose lane j is the sum of acc[j]'s lanes.
// Included by the ISA files.
#pragma once

#include "format/Half.h"
#include "kernels/ExpPoly.h"

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

  // Scores of one head over positions [from, n), one at a time.
  static void scoresTail(const float *q, const uint16_t *k, int64_t stride, int64_t from, int64_t n, int64_t hd,
                         float scale, float *s) {
    int64_t full = hd / W * W;
    for (int64_t p = from; p < n; ++p) {
      V acc = I::zero();
      for (int64_t e = 0; e < full; e += W)
        acc = I::fma(I::load(q + e), I::loadHalf(k + p * stride + e), acc);
      s[p] = (I::sum(acc) + dotTail(q, k + p * stride, full, hd)) * scale;
    }
  }

  // s = exp(s - max) / sum, the exponentials W at a time (I::exp); returns
  // max + log(sum), the log-sum-exp of the scores.
  static float softmax(float *s, int64_t n) {
    int64_t full = n / W * W;
    float mx = -INFINITY;
    if (full > 0) {
      V m = I::load(s);
      for (int64_t p = W; p < full; p += W)
        m = I::max(m, I::load(s + p));
      mx = I::hmax(m);
    }
    for (int64_t p = full; p < n; ++p)
      mx = s[p] > mx ? s[p] : mx;
    V m = I::broadcast(mx), total = I::zero();
    for (int64_t p = 0; p < full; p += W) {
      V e = I::exp(I::sub(I::load(s + p), m));
      I::store(s + p, e);
      total = I::add(total, e);
    }
    float sum = I::sum(total);
    if (full < n) {
      // The last partial vector through a buffer, its unused lanes far below
      // the maximum (exp of them is not summed).
      alignas(64) float tail[W];
      for (int j = 0; j < W; ++j)
        tail[j] = full + j < n ? s[full + j] : mx - 100.0f;
      I::store(tail, I::exp(I::sub(I::load(tail), m)));
      for (int64_t p = full; p < n; ++p)
        sum += s[p] = tail[p - full];
    }
    V vs = I::broadcast(sum);
    for (int64_t p = 0; p < full; p += W)
      I::store(s + p, I::div(I::load(s + p), vs));
    for (int64_t p = full; p < n; ++p)
      s[p] /= sum;
    return mx + std::log(sum);
  }

  // out = sum_p a[p] v[p] for CG heads at a time, their sums in registers;
  // each cached row widened once for them.
  template <int NV>
  static void weighted(const float *s, int64_t G, const uint16_t *v, int64_t stride, int64_t n, float *out) {
    constexpr int64_t hd = NV * W;
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

  // G heads sharing one K/V head (grouped-query attention; G = 1 when
  // decoding) with head_dim NV * W. Scores W positions at a time: a tile of
  // W cached keys is widened from f16 once for the G heads, each head's W
  // dot products end in W vectors that I::reduce sums across in one go
  // (instead of a horizontal sum per position).
  template <int NV>
  static void group(const float *q, int64_t G, const uint16_t *k, const uint16_t *v, int64_t stride, int64_t n,
                    float scale, float *s, float *out, float *lse) {
    constexpr int64_t hd = NV * W;
    alignas(64) float tile[W * hd];
    int64_t full = n / W * W;
    V vscale = I::broadcast(scale);
    for (int64_t p0 = 0; p0 < full; p0 += W) {
      // The same positions' values into L2 while the keys are scored: the
      // values are read only after the softmax, as a second stream that
      // otherwise starts cold from memory. A 4-row SmolLM2 step at 150
      // positions, 4 turns: attention 1.07-1.23 -> 1.02-1.05 ms.
      for (int j = 0; j < W; ++j)
        for (int64_t o = 0; o < hd * 2; o += 64)
          __builtin_prefetch(reinterpret_cast<const char *>(v + (p0 + j) * stride) + o, 0, 2);
      for (int j = 0; j < W; ++j)
        for (int i = 0; i < NV; ++i)
          I::store(tile + j * hd + i * W, I::loadHalf(k + (p0 + j) * stride + i * W));
      for (int64_t g = 0; g < G; ++g) {
        V qv[NV], acc[W];
        for (int i = 0; i < NV; ++i)
          qv[i] = I::load(q + g * hd + i * W);
        for (int j = 0; j < W; ++j) {
          acc[j] = I::mul(qv[0], I::load(tile + j * hd));
          for (int i = 1; i < NV; ++i)
            acc[j] = I::fma(qv[i], I::load(tile + j * hd + i * W), acc[j]);
        }
        I::store(s + g * n + p0, I::mul(I::reduce(acc), vscale));
      }
    }
    for (int64_t g = 0; g < G; ++g) {
      scoresTail(q + g * hd, k, stride, full, n, hd, scale, s + g * n);
      float l = softmax(s + g * n, n);
      if (lse)
        lse[g] = l;
    }
    weighted<NV>(s, G, v, stride, n, out);
  }

  // A head size that is not a whole number of vectors: one head at a time.
  static void one(const float *q, const uint16_t *k, const uint16_t *v, int64_t stride, int64_t n, int64_t hd,
                  float scale, float *s, float *out, float *lse) {
    scoresTail(q, k, stride, 0, n, hd, scale, s);
    float l = softmax(s, n);
    if (lse)
      *lse = l;
    for (int64_t e = 0; e < hd; ++e)
      out[e] = 0;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t e = 0; e < hd; ++e)
        out[e] += s[p] * fp16ToFloat(v[p * stride + e]);
  }

  // The KernelTable entry: G query heads (q and out: G * hd floats, head
  // after head) over the same n cached positions; s holds G * n floats.
  static void run(const float *q, int64_t G, const uint16_t *k, const uint16_t *v, int64_t stride, int64_t n,
                  int64_t hd, float scale, float *s, float *out, float *lse) {
    if (hd % W == 0) {
      switch (hd / W) {
      case 1: return group<1>(q, G, k, v, stride, n, scale, s, out, lse);
      case 2: return group<2>(q, G, k, v, stride, n, scale, s, out, lse);
      case 4: return group<4>(q, G, k, v, stride, n, scale, s, out, lse);
      case 8: return group<8>(q, G, k, v, stride, n, scale, s, out, lse);
      case 16: return group<16>(q, G, k, v, stride, n, scale, s, out, lse);
      default: break;
      }
    }
    for (int64_t g = 0; g < G; ++g)
      one(q + g * hd, k, v, stride, n, hd, scale, s + g * n, out + g * hd, lse ? lse + g : nullptr);
  }
};

} // namespace mcc::kernels
