// The one tiling engine behind every SIMD block kernel (after llamafile's
// tinyBLAS): an ISA contributes a few vector operations and, per weight
// format, how to expand one block of 32 weights into f32 vectors; the engine
// walks tiles of R weight rows x TT activation rows and multiply-adds.
//
// An ISA traits struct provides:
//   using V;  static constexpr int W;            f32 vector of W lanes
//   static V zero(); V load(const float *);      V fma(V a, V b, V acc);
//   V add(V, V); float sum(V); V broadcast(float); void store(float *, V);
//   static constexpr int kDecodeRows;            rows per tile when T == 1
//   static constexpr int kPrefillRows, kPrefillTokens (<= 4);
// and a format is a block size (BlockWeights, a multiple of 32, in BlockBytes)
// and an Expand function, void(const uint8_t *block, int sub, V out[32 / W]),
// giving the sub-th 32 weights of the block (so wide blocks do not need all
// their weights in registers at once).
//
// Included only by the ISA files, each compiled with its own target flags.
#pragma once

#include <algorithm>
#include <cstdint>

namespace mcc::kernels {

template <class I, int BlockBytes, void (*Expand)(const uint8_t *, int, typename I::V *), int BlockWeights = 32>
struct BlockEngine {
  using V = typename I::V;
  static constexpr int NV = 32 / I::W;
  static_assert(BlockWeights % 32 == 0);

  // y[t * ldy + r] for r < R, t < TT; w at row 0 of the tile, x at token 0.
  // Two accumulators per (row, token) so a decode tile has enough
  // independent FMA chains to hide their latency.
  template <int R, int TT>
  static void tile(const uint8_t *w, int64_t rowBytes, int64_t nb, const float *x, int64_t K, float *y, int64_t ldy) {
    V acc[R][TT][2];
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < TT; ++t)
        acc[r][t][0] = acc[r][t][1] = I::zero();
    for (int64_t b = 0; b < nb; ++b) {
      for (int r = 0; r < R; ++r) {
        const uint8_t *blk = w + r * rowBytes + b * BlockBytes;
        // The hardware prefetchers lose track of several interleaved
        // streams of short blocks; asking a few blocks ahead keeps decode
        // reading at memory speed.
        __builtin_prefetch(blk + 16 * BlockBytes);
        for (int s = 0; s < BlockWeights / 32; ++s) {
          V wv[NV];
          Expand(blk, s, wv);
          for (int t = 0; t < TT; ++t) {
            const float *xb = x + t * K + b * BlockWeights + s * 32;
            for (int v = 0; v < NV; ++v)
              acc[r][t][v & 1] = I::fma(wv[v], I::load(xb + v * I::W), acc[r][t][v & 1]);
          }
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int t = 0; t < TT; ++t)
        y[t * ldy + r] = I::sum(I::add(acc[r][t][0], acc[r][t][1]));
  }

  template <int R>
  static void tokens(const uint8_t *w, int64_t rowBytes, int64_t nb, const float *x, int64_t K, int64_t T, float *y,
                     int64_t ldy) {
    constexpr int PT = I::kPrefillTokens;
    static_assert(PT >= 1 && PT <= 4);
    for (int64_t t0 = 0; t0 < T; t0 += PT) {
      const float *xt = x + t0 * K;
      float *yt = y + t0 * ldy;
      switch (std::min<int64_t>(PT, T - t0)) {
      case 1: tile<R, 1>(w, rowBytes, nb, xt, K, yt, ldy); break;
      case 2: if constexpr (PT >= 2) tile<R, 2>(w, rowBytes, nb, xt, K, yt, ldy); break;
      case 3: if constexpr (PT >= 3) tile<R, 3>(w, rowBytes, nb, xt, K, yt, ldy); break;
      case 4: if constexpr (PT >= 4) tile<R, 4>(w, rowBytes, nb, xt, K, yt, ldy); break;
      }
    }
  }

  // The BlockMatMul entry point (Kernels.h).
  static void run(const uint8_t *w, const float *x, float *y, int64_t K, int64_t T, int64_t ldy, int64_t r0,
                  int64_t r1) {
    int64_t nb = K / BlockWeights, rowBytes = nb * BlockBytes;
    int64_t r = r0;
    if (T == 1) {
      constexpr int DR = I::kDecodeRows;
      for (; r + DR <= r1; r += DR)
        tile<DR, 1>(w + r * rowBytes, rowBytes, nb, x, K, y + r, ldy);
      for (; r < r1; ++r)
        tile<1, 1>(w + r * rowBytes, rowBytes, nb, x, K, y + r, ldy);
      return;
    }
    // Row tiles outside, token tiles inside: the tile's weights stay in L1
    // while the activations stream from L2.
    constexpr int PR = I::kPrefillRows;
    for (; r + PR <= r1; r += PR)
      tokens<PR>(w + r * rowBytes, rowBytes, nb, x, K, T, y + r, ldy);
    for (; r < r1; ++r)
      tokens<1>(w + r * rowBytes, rowBytes, nb, x, K, T, y + r, ldy);
  }
};

} // namespace mcc::kernels
