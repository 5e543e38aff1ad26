// The integer products over 4-bit (and 8-bit) weights stored in panels of 16 rows
// (format/Panel.h), one engine for every ISA: the numerics of
// QuantizedActs.h (int8 activations with a scale per 16, and for decoding a
// second int8 pass carrying their rounding), with the weights read as
// stored. A 64-byte chunk of a panel holds four weights of each of 16 rows,
// so every integer instruction multiplies 16 rows (lanes) by four
// broadcast activations, and the float work per 32 weights — scale, offset,
// activation scales — is a few vector operations for 16 rows at once: no
// per-call rearranging, so one token runs at the speed the weights stream
// in and a batch of tokens reuses each loaded chunk from registers.
//
// An ISA traits struct I provides:
//   VI, VF: int32 and f32 vectors of kLanes lanes (16 or 8: rows per vector)
//   kTokens<Residual>: tokens per register tile
//   VI zeroi(); VF zerof();  VI load(const uint8_t *): kLanes * 4 bytes
//   VI low(VI), high(VI): the low and high nibbles of each byte, as bytes,
//     both possibly shifted up by 4 (kNibbleScale = 1/16 then, else 1)
//   VI dot(VI acc, VI w, const int8_t *x4): acc + per lane sum of the four
//     u8 weights (at most 15) times x4[0..3]; dot8 the same for any u8
//     weights (Q8_0's, at most 255)
//   VF cvt(VI); VF fma(a, b, c); VF mul(a, b); VF set1(float)
//   scales<F>(header of the tile's first row, d, m): kLanes rows' scale and offset
//   store(float *y, VF, unsigned lanes): the lanes whose bit is set
//   quantize<Residual>(x, K, T, xq, xr, dx, sx): as quantizeActs
//
// Included only by the ISA files, each compiled with its own target flags.
#pragma once

#include "format/Panel.h"
#include "kernels/QuantizedActs.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace mcc::kernels {

template <class I> struct PanelEngine {
  using VI = typename I::VI;
  using VF = typename I::VF;
  static constexpr int kVectors = kPanelRows / I::kLanes; // vectors per chunk

  // TT tokens over one panel: y[t * ldy + i] for the rows i in `rows`;
  // xq, xr, dx, sx at the tile's first token.
  template <WeightFormat F, bool Residual, int TT>
  static void tile(const uint8_t *panel, int64_t nb, const int8_t *xq, const int8_t *xr, const float *dx,
                   const float *sx, int64_t K, float *y, int64_t ldy, unsigned rows) {
    using L = IntLayout<F>;
    constexpr int subs = L::kWeights / 32, H = L::kHeader;
    const int64_t ns = K / 32;
    const VF rs = I::set1(kResidualScale);
    constexpr float kNibbleScale = F == WeightFormat::Q8_0 ? 1.0f : I::kNibbleScale;
    for (int h = 0; h < kVectors; ++h) {
      unsigned lanes = (rows >> (h * I::kLanes)) & ((1u << I::kLanes) - 1);
      if (!lanes)
        continue;
      VF facc[TT];
      for (int t = 0; t < TT; ++t)
        facc[t] = I::zerof();
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t *blk = panel + b * kPanelRows * L::kBytes;
        VF d, m;
        I::template scales<F>(blk + h * I::kLanes * H, d, m);
        d = I::mul(d, I::set1(kNibbleScale));
        for (int s = 0; s < subs; ++s) {
          // Every line of a block some way ahead, a share before each 32
          // weights: a decode step reads each weight once, so nothing hides
          // the memory latency but prefetches.
          if (h == 0) {
            auto [from, to] = panelPrefetchLines(F, s);
            for (int64_t o = from; o < to; o += 64)
              __builtin_prefetch(blk + panelPrefetchAhead(F, Residual) + o, 0, panelPrefetchToL1(Residual) ? 3 : 2);
          }
          const int64_t kb = b * subs + s;
          const uint8_t *nib = blk + kPanelRows * H + s * 256 + h * I::kLanes * 4;
          VI lo[TT], hi[TT], rlo[TT], rhi[TT];
          for (int t = 0; t < TT; ++t)
            lo[t] = hi[t] = rlo[t] = rhi[t] = I::zeroi();
          if constexpr (F == WeightFormat::Q8_0) {
            // Eight chunks of whole bytes: weights 0-15, then 16-31.
            for (int c = 0; c < 8; ++c) {
              VI w = I::load(nib + 64 * c);
              for (int t = 0; t < TT; ++t) {
                const int64_t at = t * K + kb * 32 + 4 * c;
                VI &acc = c < 4 ? lo[t] : hi[t];
                acc = I::dot8(acc, w, xq + at);
                if constexpr (Residual) {
                  VI &racc = c < 4 ? rlo[t] : rhi[t];
                  racc = I::dot8(racc, w, xr + at);
                }
              }
            }
          } else {
            for (int c = 0; c < 4; ++c) {
              VI w = I::load(nib + 64 * c), wl = I::low(w), wh = I::high(w);
              for (int t = 0; t < TT; ++t) {
                const int64_t at = t * K + kb * 32 + 4 * c;
                lo[t] = I::dot(lo[t], wl, xq + at);
                hi[t] = I::dot(hi[t], wh, xq + at + 16);
                if constexpr (Residual) {
                  rlo[t] = I::dot(rlo[t], wl, xr + at);
                  rhi[t] = I::dot(rhi[t], wh, xr + at + 16);
                }
              }
            }
          }
          // Per token: the two halves under their activation scales, then
          // the weight scale and the offset.
          for (int t = 0; t < TT; ++t) {
            const float *dxt = dx + (t * ns + kb) * 2;
            VF l = I::cvt(lo[t]), u = I::cvt(hi[t]);
            if constexpr (Residual) {
              l = I::fma(I::cvt(rlo[t]), rs, l);
              u = I::fma(I::cvt(rhi[t]), rs, u);
            }
            VF both = I::fma(l, I::set1(dxt[0]), I::mul(u, I::set1(dxt[1])));
            facc[t] = I::fma(both, d, facc[t]);
            facc[t] = I::fma(m, I::set1(sx[t * ns + kb]), facc[t]);
          }
        }
      }
      for (int t = 0; t < TT; ++t)
        I::store(y + t * ldy + h * I::kLanes, facc[t], lanes);
    }
  }

  // The BlockMatMul entry point (Kernels.h).
  template <WeightFormat F, bool Residual>
  static void run(const uint8_t *w, const float *x, float *y, int64_t K, int64_t T, int64_t ldy, int64_t r0,
                  int64_t r1) {
    runWith<F, Residual>(Tiles<F, Residual>{}, w, x, y, K, T, ldy, r0, r1);
  }

  // The activations quantized for any number of products (PanelPrepare).
  static void prepare(const float *x, int64_t K, int64_t T, bool residual, QuantizedRows &a) {
    const int64_t ns = K / 32;
    a.K = K, a.T = T, a.residual = residual, a.hasOffset = false;
    a.q.resize(size_t(T * K));
    a.r.resize(residual ? size_t(T * K) : 0);
    a.d.resize(size_t(T * ns * 2));
    a.sum.resize(size_t(T * ns));
    if (residual)
      I::template quantize<true>(x, K, T, a.q.data(), a.r.data(), a.d.data(), a.sum.data());
    else
      I::template quantize<false>(x, K, T, a.q.data(), nullptr, a.d.data(), a.sum.data());
  }

  // A product over prepared activations (PanelRun).
  template <WeightFormat F, bool Residual>
  static void runPrepared(const uint8_t *w, const QuantizedRows &a, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    runPreparedWith<F, Residual>(Tiles<F, Residual>{}, w, a, y, ldy, r0, r1);
  }

  // The activations as the tiles read them, from token t0 on; `xo` (for
  // tile sets with kOffsets: the JIT's) -128 x the sum of each 16 quantized
  // activations, where a layout with one offset for all rows can start its
  // integer sums.
  struct TileInputs {
    const int8_t *xq, *xr;
    const float *dx, *sx;
    const int32_t *xo;
  };

  // run() with the tiles from `tiles`: tiles(panel, n, inputs, y, ldy, rows)
  // computes n <= tiles.kMax tokens over one panel (the JIT's come from
  // generated code, jit/PanelTileGen.h).
  template <WeightFormat F, bool Residual, class TileSet>
  static void runWith(const TileSet &tiles, const uint8_t *w, const float *x, float *y, int64_t K, int64_t T,
                      int64_t ldy, int64_t r0, int64_t r1) {
    thread_local QuantizedRows a;
    prepare(x, K, T, Residual, a);
    runPreparedWith<F, Residual>(tiles, w, a, y, ldy, r0, r1);
  }

  // runWith over activations already quantized (a.residual == Residual).
  template <WeightFormat F, bool Residual, class TileSet>
  static void runPreparedWith(const TileSet &tiles, const uint8_t *w, const QuantizedRows &a, float *y, int64_t ldy,
                              int64_t r0, int64_t r1) {
    using L = IntLayout<F>;
    const int64_t K = a.K, T = a.T;
    const int64_t nb = K / L::kWeights, ns = K / 32, panelBytes = nb * kPanelRows * L::kBytes;
    if constexpr (TileSet::kOffsets) {
      if (!a.hasOffset) {
        a.offset.resize(size_t(T * ns * 2));
        for (int64_t i = 0; i < T * ns * 2; ++i) {
          int32_t s = 0;
          for (int j = 0; j < 16; ++j)
            s += a.q[size_t(16 * i + j)];
          a.offset[size_t(i)] = -128 * s;
        }
        a.hasOffset = true;
      }
    }
    // Ranges need not start on a panel: the rows outside are computed and
    // not stored.
    for (int64_t p = r0 / kPanelRows; p * kPanelRows < r1; ++p) {
      int64_t base = p * kPanelRows, lo = std::max(r0, base) - base, hi = std::min(r1, base + kPanelRows) - base;
      unsigned rows = ((1u << hi) - 1) & ~((1u << lo) - 1);
      for (int64_t t = 0; t < T; t += TileSet::kMax) {
        TileInputs in{a.q.data() + t * K, Residual ? a.r.data() + t * K : nullptr, a.d.data() + t * ns * 2,
                      a.sum.data() + t * ns, TileSet::kOffsets ? a.offset.data() + t * ns * 2 : nullptr};
        tiles(w + p * panelBytes, int(std::min<int64_t>(TileSet::kMax, T - t)), in, K, y + t * ldy + base, ldy,
              rows);
      }
    }
  }

private:
  // The intrinsics' tiles: the widest that fits the n tokens left.
  template <WeightFormat F, bool Residual> struct Tiles {
    static constexpr int kMax = I::template kTokens<Residual>;
    static constexpr bool kOffsets = false;
    void operator()(const uint8_t *panel, int n, const TileInputs &in, int64_t K, float *y, int64_t ldy,
                    unsigned rows) const {
      dispatch<kMax>(panel, n, in, K, y, ldy, rows);
    }
    template <int TT>
    static void dispatch(const uint8_t *panel, int n, const TileInputs &in, int64_t K, float *y, int64_t ldy,
                         unsigned rows) {
      if constexpr (TT > 1)
        if (n < TT)
          return dispatch<TT - 1>(panel, n, in, K, y, ldy, rows);
      tile<F, Residual, TT>(panel, K / IntLayout<F>::kWeights, in.xq, in.xr, in.dx, in.sx, K, y, ldy, rows);
    }
  };
};

} // namespace mcc::kernels
