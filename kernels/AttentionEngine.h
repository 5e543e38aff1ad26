// Attention of query heads over a span of cached positions, written once
// over an ISA's vector traits (TileEngine.h) and instantiated per ISA:
//   s[p] = q · k[p] * scale, a = softmax(s), out = sum_p a[p] v[p]
// The cache keeps f16 (Q8 false) or int8 with a scale per kKvGroup elements
// of a position (Q8 true; Kernels.h, KvType). Keys are stored in blocks of
// kKeyBlock positions, each block [head_dim][kKeyBlock] (Kernels.h,
// keyIndex): a block's scores come out with the positions in the vector
// lanes, each widened key vector used by every query head of the group, and
// no sums across lanes; with int8, each group's sums are scaled by the
// group's scales of the block's positions, a vector of them. Values are rows
// `stride` elements apart; an int8 row is widened and scaled once for the
// group's heads. The ISA traits add to TileEngine.h's: V loadHalf(const
// uint16_t *); V loadI8(const int8_t *) (W int8 as floats); V sub, mul, div,
// max(V, V); float hmax(V); V exp(V) (expPoly, ExpPoly.h). Included by the
// ISA files.
#pragma once

#include "format/Half.h"
#include "kernels/ExpPoly.h"
#include "kernels/Kernels.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace mcc::kernels {

template <class I, bool Q8 = false> struct AttentionEngine {
  using V = typename I::V;
  using Elem = std::conditional_t<Q8, int8_t, uint16_t>; // what the cache holds
  static constexpr KvType kType = Q8 ? KvType::I8 : KvType::F16;
  static constexpr int W = I::W;
  static constexpr int C = int(kKeyBlock) / W;      // vectors per block row
  static constexpr int kMaxHeads = C == 1 ? 8 : 4; // heads scored together: their sums stay in registers

  // Scores of H heads (q: H * hd floats) over positions [0, n), the first
  // at column k0 of k's first block; written to s, head h's at s + h * n.
  // Blocks are read whole: lanes outside [0, n) are computed and dropped.
  // Values of the same positions are prefetched into L2 while the keys are
  // scored: they are read only after the softmax, as a second stream that
  // otherwise starts cold from memory (a 4-row SmolLM2 step at 150
  // positions, 4 turns: attention 1.07-1.23 -> 1.02-1.05 ms).
  template <int H>
  static void scoreHeads(const float *q, int64_t hd, const Elem *k, int64_t k0, const Elem *v, int64_t stride,
                         int64_t n, float scale, float *s) {
    // Two sets of sums where one would leave too few independent chains
    // for the FMA latency.
    constexpr int A = H * C >= 8 ? 1 : 2;
    const V vscale = I::broadcast(scale);
    const int64_t blocks = (k0 + n + kKeyBlock - 1) / kKeyBlock;
    const int64_t blockElems = keyBlockBytes(kType, hd) / int64_t(sizeof(Elem));
    const int64_t rowBytes = valueRowBytes(kType, hd);
    // f16 keys: one group, the whole head; int8: each group's sums scaled.
    const int64_t group = Q8 ? kKvGroup : hd;
    for (int64_t b = 0; b < blocks; ++b) {
      const Elem *blk = k + b * blockElems;
      const int64_t first = b * kKeyBlock - k0; // the position of lane 0
      if (v)
        for (int64_t p = std::max<int64_t>(first, 0); p < std::min(first + kKeyBlock, n); ++p)
          for (int64_t o = 0; o < rowBytes; o += 64)
            __builtin_prefetch(reinterpret_cast<const char *>(v + p * stride) + o, 0, 2);
      V tot[H][C];
      for (int64_t e0 = 0; e0 < hd; e0 += group) {
        const int64_t e1 = std::min(e0 + group, hd);
        V acc[A][H][C];
        for (int a = 0; a < A; ++a)
          for (int h = 0; h < H; ++h)
            for (int c = 0; c < C; ++c)
              acc[a][h][c] = I::zero();
        int64_t e = e0;
        for (; e + A <= e1; e += A)
          for (int a = 0; a < A; ++a) {
            V kv[C];
            for (int c = 0; c < C; ++c)
              kv[c] = loadKey(blk + (e + a) * kKeyBlock + c * W);
            for (int h = 0; h < H; ++h) {
              V qe = I::broadcast(q[h * hd + e + a]);
              for (int c = 0; c < C; ++c)
                acc[a][h][c] = I::fma(qe, kv[c], acc[a][h][c]);
            }
          }
        for (; e < e1; ++e) {
          V kv[C];
          for (int c = 0; c < C; ++c)
            kv[c] = loadKey(blk + e * kKeyBlock + c * W);
          for (int h = 0; h < H; ++h)
            for (int c = 0; c < C; ++c)
              acc[0][h][c] = I::fma(I::broadcast(q[h * hd + e]), kv[c], acc[0][h][c]);
        }
        for (int h = 0; h < H; ++h)
          for (int c = 0; c < C; ++c) {
            V sum = acc[0][h][c];
            for (int a = 1; a < A; ++a)
              sum = I::add(sum, acc[a][h][c]);
            if constexpr (Q8) {
              V d = I::load(keyScales(blk, hd) + (e0 / kKvGroup) * kKeyBlock + c * W);
              tot[h][c] = e0 == 0 ? I::mul(sum, d) : I::fma(sum, d, tot[h][c]);
            } else {
              tot[h][c] = sum;
            }
          }
      }
      const bool whole = first >= 0 && first + kKeyBlock <= n;
      for (int h = 0; h < H; ++h) {
        alignas(64) float lanes[kKeyBlock];
        float *to = whole ? s + h * n + first : lanes;
        for (int c = 0; c < C; ++c)
          I::store(to + c * W, I::mul(tot[h][c], vscale));
        if (!whole)
          for (int64_t j = 0; j < kKeyBlock; ++j)
            if (first + j >= 0 && first + j < n)
              s[h * n + first + j] = lanes[j];
      }
    }
  }

  static V loadKey(const Elem *p) {
    if constexpr (Q8)
      return I::loadI8(p);
    else
      return I::loadHalf(p);
  }
  // An int8 key block's scales, after its keys (Kernels.h, KvType).
  static const float *keyScales(const Elem *blk, int64_t hd) {
    return reinterpret_cast<const float *>(reinterpret_cast<const char *>(blk) + kKeyBlock * hd);
  }
  // Element e of an int8 value row: its group's scale.
  static float valueScale(const Elem *row, int64_t hd, int64_t e) {
    float d;
    std::memcpy(&d, reinterpret_cast<const char *>(row) + hd + 4 * (e / kKvGroup), 4);
    return d;
  }

  static void scores(const float *q, int64_t G, int64_t hd, const Elem *k, int64_t k0, const Elem *v,
                     int64_t stride, int64_t n, float scale, float *s) {
    for (int64_t g = 0; g < G; g += kMaxHeads) {
      // Values prefetched once, with the first group of heads.
      const Elem *pv = g == 0 ? v : nullptr;
      const float *qg = q + g * hd;
      float *sg = s + g * n;
      switch (std::min<int64_t>(kMaxHeads, G - g)) {
      case 1: scoreHeads<1>(qg, hd, k, k0, pv, stride, n, scale, sg); break;
      case 2: scoreHeads<2>(qg, hd, k, k0, pv, stride, n, scale, sg); break;
      case 3: scoreHeads<3>(qg, hd, k, k0, pv, stride, n, scale, sg); break;
      case 4: scoreHeads<4>(qg, hd, k, k0, pv, stride, n, scale, sg); break;
      case 5: scoreHeads<5>(qg, hd, k, k0, pv, stride, n, scale, sg); break;
      case 6: scoreHeads<6>(qg, hd, k, k0, pv, stride, n, scale, sg); break;
      case 7: scoreHeads<7>(qg, hd, k, k0, pv, stride, n, scale, sg); break;
      default: scoreHeads<kMaxHeads>(qg, hd, k, k0, pv, stride, n, scale, sg); break;
      }
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

  // The lines of `ahead` in equal shares over n positions: next() before
  // each position asks for those up to its share (after k calls,
  // lines * k / n of them), counted without a division per position (with
  // one, a job of 224 positions handed 32 KiB, in cache: 2.6-2.8 us; without,
  // 1.96).
  struct AheadShares {
    const char *ahead;
    int64_t lines, n, owed = 0, line = 0;
    void next() {
      for (owed += lines; owed >= n && line < lines; owed -= n, ++line)
        __builtin_prefetch(ahead + line * 64, 0, 2);
    }
  };

  // out = sum_p a[p] v[p] for CG heads at a time, their sums in registers;
  // each cached row widened once for them. The lines of `ahead` are asked
  // for in equal shares over the first group's positions: the values come
  // from L2 (prefetched while scoring), so memory is otherwise idle here,
  // and the next job's keys would start from it cold (one G = 3, hd = 64
  // job over 224 positions out of cache: 3.5 us, 2.3 with its keys fetched
  // during the job before; 2.0 in cache).
  template <int NV>
  static void weighted(const float *s, int64_t G, const Elem *v, int64_t stride, int64_t n, float *out,
                       const char *ahead, int64_t aheadLines) {
    constexpr int64_t hd = NV * W;
    constexpr int CG = NV >= 8 ? 1 : NV >= 4 ? 3 : 4;
    for (int64_t g0 = 0; g0 < G; g0 += CG) {
      int cg = int(std::min<int64_t>(CG, G - g0));
      V acc[CG][NV];
      for (int g = 0; g < CG; ++g)
        for (int i = 0; i < NV; ++i)
          acc[g][i] = I::zero();
      AheadShares fetch{ahead, g0 == 0 ? aheadLines : 0, n};
      for (int64_t p = 0; p < n; ++p) {
        fetch.next();
        V vv[NV];
        const Elem *row = v + p * stride;
        for (int i = 0; i < NV; ++i) {
          if constexpr (Q8)
            vv[i] = I::mul(I::loadI8(row + i * W), I::broadcast(valueScale(row, hd, i * W)));
          else
            vv[i] = I::loadHalf(row + i * W);
        }
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

  // A head size that is not a whole number of vectors: the values one
  // element at a time.
  static void weightedAny(const float *s, int64_t G, const Elem *v, int64_t stride, int64_t n, int64_t hd,
                          float *out, const char *ahead, int64_t aheadLines) {
    AheadShares fetch{ahead, aheadLines, n};
    for (int64_t g = 0; g < G; ++g) {
      float *o = out + g * hd;
      for (int64_t e = 0; e < hd; ++e)
        o[e] = 0;
      for (int64_t p = 0; p < n; ++p) {
        if (g == 0)
          fetch.next();
        const Elem *row = v + p * stride;
        for (int64_t e = 0; e < hd; ++e)
          if constexpr (Q8)
            o[e] += s[g * n + p] * (float(row[e]) * valueScale(row, hd, e));
          else
            o[e] += s[g * n + p] * fp16ToFloat(row[e]);
      }
    }
  }

  // The KernelTable entry: G query heads (q and out: G * hd floats, head
  // after head) over the same n cached positions; s holds G * n floats.
  static void run(const float *q, int64_t G, const Elem *k, int64_t k0, const Elem *v, int64_t stride,
                  int64_t n, int64_t hd, float scale, float *s, float *out, float *lse, const void *ahead,
                  int64_t aheadBytes) {
    scores(q, G, hd, k, k0, v, stride, n, scale, s);
    const char *a = static_cast<const char *>(ahead);
    const int64_t lines = a ? (aheadBytes + 63) / 64 : 0;
    for (int64_t g = 0; g < G; ++g) {
      float l = softmax(s + g * n, n);
      if (lse)
        lse[g] = l;
    }
    if (hd % W == 0) {
      switch (hd / W) {
      case 1: return weighted<1>(s, G, v, stride, n, out, a, lines);
      case 2: return weighted<2>(s, G, v, stride, n, out, a, lines);
      case 4: return weighted<4>(s, G, v, stride, n, out, a, lines);
      case 8: return weighted<8>(s, G, v, stride, n, out, a, lines);
      case 16: return weighted<16>(s, G, v, stride, n, out, a, lines);
      default: break;
      }
    }
    weightedAny(s, G, v, stride, n, hd, out, a, lines);
  }
};

} // namespace mcc::kernels
