// Prompt processing through integer dot products: the activations of a
// matrix product are quantized once, to int8 with a scale per 16 values, and
// every 4-bit weight format is read as w = d * q + m with q its unsigned 4-bit
// value (Q4_0: m = -8 d). Per block of 32 weights, with x~ the activations as
// quantized (dx * xq, dx the scale of each half),
//
//   sum_j w_j x~_j  =  d * (dx0 * sum_{j<16} q_j xq_j + dx1 * sum_{j>=16} q_j xq_j)  +  m * sum_j x~_j
//
// exactly: the integer sums are exact, and the offset term takes the sum of
// the quantized activations, so the product is that of the true weights
// with x~ (an exact sum of x there would leave the error of the uncentred
// q-part alone, several times larger). Scales per 16 rather than llama.cpp's
// per 32 halve the rounding of every activation block that holds an outlier.
//
// Decoding (fewer than kIntMinTokens tokens) is memory-bound, so it affords a
// second int8 pass that carries each activation's rounding error: v = x / dx,
// xq = nearbyint(v), xr = nearbyint((v - xq) * 254), x~ = dx * (xq + xr / 254).
// The products cost twice the integer work and land within 1/254 of the
// int8 rounding: as close to the f32 product as makes no difference.
//
// This file is that definition, in scalar code; the SIMD kernels
// (avx512/Gemm.cpp) are checked against it.
#pragma once

#include "format/Dequant.h"
#include "format/Half.h"
#include "format/Panel.h"
#include "kernels/Kernels.h"

#include <cmath>
#include <cstdint>

namespace mcc::kernels {

// One block of 32 activations: for each half h, xq = nearbyint(x / d[h]) with
// d[h] = max|x| / 127 over the half (and with Residual, xr as above);
// sum = sum over the halves of d[h] * (sum xq + sum xr / 254).
struct ActBlock {
  int8_t q[32];
  int8_t r[32]; // zeros without Residual
  float d[2];
  float sum;
};

constexpr float kResidualScale = 1.0f / 254.0f;

inline void quantizeActBlock(const float *x, ActBlock &out, bool residual = false) {
  out.sum = 0;
  for (int h = 0; h < 2; ++h) {
    float amax = 0;
    for (int j = 16 * h; j < 16 * h + 16; ++j)
      amax = std::fmax(amax, std::fabs(x[j]));
    out.d[h] = amax / 127.0f;
    float inv = amax > 0 ? 127.0f / amax : 0.0f;
    int32_t qsum = 0, rsum = 0;
    for (int j = 16 * h; j < 16 * h + 16; ++j) {
      float v = x[j] * inv, q = std::nearbyint(v);
      out.q[j] = int8_t(q);
      out.r[j] = residual ? int8_t(std::nearbyint((v - q) * 254.0f)) : 0;
      qsum += out.q[j];
      rsum += out.r[j];
    }
    out.sum += out.d[h] * (float(qsum) + float(rsum) * kResidualScale);
  }
}

// T rows of K activations, every block of 32 as quantizeActBlock, into the
// arrays the panel kernels read: xq (and xr) T * K values, dx the two half
// scales of each block, sx its sum.
template <bool Residual>
void quantizeActs(const float *x, int64_t K, int64_t T, int8_t *xq, int8_t *xr, float *dx, float *sx) {
  ActBlock a;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t s = 0; s < K / 32; ++s) {
      int64_t at = t * K + s * 32, kb = t * (K / 32) + s;
      quantizeActBlock(x + at, a, Residual);
      for (int j = 0; j < 32; ++j) {
        xq[at + j] = a.q[j];
        if constexpr (Residual)
          xr[at + j] = a.r[j];
      }
      dx[2 * kb] = a.d[0], dx[2 * kb + 1] = a.d[1];
      sx[kb] = a.sum;
    }
}

// The 4-bit formats: where a block's nibbles start (kHeader; 16 bytes per
// 32 weights, GGML's order: byte i holds weight i low and weight i + 16
// high) and its scale and offset (scales), w = d * q + m.
template <WeightFormat F> struct IntLayout;
// Sizes from format/Panel.h's blockShape.
template <WeightFormat F> struct BlockSizes {
  static constexpr int kBytes = blockShape(F).bytes, kWeights = blockShape(F).weights, kHeader = blockShape(F).header;
};
template <> struct IntLayout<WeightFormat::Q4_0> : BlockSizes<WeightFormat::Q4_0> {
  static void scales(const uint8_t *b, float &d, float &m) {
    d = fp16ToFloat(loadU16(b));
    m = -8.0f * d;
  }
};
template <> struct IntLayout<WeightFormat::Q4_1> : BlockSizes<WeightFormat::Q4_1> {
  static void scales(const uint8_t *b, float &d, float &m) {
    d = fp16ToFloat(loadU16(b));
    m = fp16ToFloat(loadU16(b + 2));
  }
};
template <> struct IntLayout<WeightFormat::PK4> : BlockSizes<WeightFormat::PK4> {
  static void scales(const uint8_t *b, float &d, float &m) {
    d = bitsToFloat(loadU32(b));
    m = bitsToFloat(loadU32(b + 4));
  }
};
template <> struct IntLayout<WeightFormat::PK4_128> : BlockSizes<WeightFormat::PK4_128> {
  static constexpr auto scales = IntLayout<WeightFormat::PK4>::scales;
};

// Q8_0's signed values are read as u = q + 128, unsigned like the nibbles
// (the integer products are u8 x s8), with m = -128 d: w = d * u + m.
template <> struct IntLayout<WeightFormat::Q8_0> : BlockSizes<WeightFormat::Q8_0> {
  static void scales(const uint8_t *b, float &d, float &m) {
    d = fp16ToFloat(loadU16(b));
    m = -128.0f * d;
  }
};

// The sub-th 32 weights of a block as (d, m, 32 unsigned values in natural order).
struct IntSub {
  float d, m;
  uint8_t q[32];
};
template <WeightFormat F> void intSub(const uint8_t *b, int sub, IntSub &s) {
  using L = IntLayout<F>;
  L::scales(b, s.d, s.m);
  if constexpr (F == WeightFormat::Q8_0) {
    for (int i = 0; i < 32; ++i)
      s.q[i] = uint8_t(b[L::kHeader + i] ^ 0x80);
    return;
  }
  const uint8_t *qs = b + L::kHeader + 16 * sub;
  for (int i = 0; i < 16; ++i) {
    s.q[i] = qs[i] & 0xF;
    s.q[i + 16] = qs[i] >> 4;
  }
}

// Fills a table's integer entries from K::run<F, Residual>, the same list
// for every ISA. Without `decode`, only the prompt entries: decoding then
// takes the f32 kernels, where those are measured faster.
template <class K> void fillInt8(KernelTable &t, bool decode = true) {
  t.q4_0_i8 = K::template run<WeightFormat::Q4_0, false>;
  t.q4_1_i8 = K::template run<WeightFormat::Q4_1, false>;
  t.pk4_i8 = K::template run<WeightFormat::PK4, false>;
  t.pk4_128_i8 = K::template run<WeightFormat::PK4_128, false>;
  if (!decode)
    return;
  t.q4_0_i8x2 = K::template run<WeightFormat::Q4_0, true>;
  t.q4_1_i8x2 = K::template run<WeightFormat::Q4_1, true>;
  t.pk4_i8x2 = K::template run<WeightFormat::PK4, true>;
  t.pk4_128_i8x2 = K::template run<WeightFormat::PK4_128, true>;
}

// The same for the panel entries, from an engine E (PanelEngine.h, or the
// reference's) with E::run<F, Residual>.
template <class E> void fillPanels(KernelTable &t) {
  t.panels = {E::template run<WeightFormat::Q4_0, false>, E::template run<WeightFormat::Q4_1, false>,
              E::template run<WeightFormat::PK4, false>, E::template run<WeightFormat::PK4_128, false>,
              E::template run<WeightFormat::Q8_0, false>};
  t.panels_x2 = {E::template run<WeightFormat::Q4_0, true>, E::template run<WeightFormat::Q4_1, true>,
                 E::template run<WeightFormat::PK4, true>, E::template run<WeightFormat::PK4_128, true>,
                 E::template run<WeightFormat::Q8_0, true>};
}

// The two-step entries (KernelTable::panel_prepare, panel_runs), from an
// engine E with E::prepare and E::runPrepared<F, Residual>.
template <class E> void fillPreparedPanels(KernelTable &t) {
  t.panel_prepare = E::prepare;
  t.panel_runs = {E::template runPrepared<WeightFormat::Q4_0, false>, E::template runPrepared<WeightFormat::Q4_1, false>,
                  E::template runPrepared<WeightFormat::PK4, false>,
                  E::template runPrepared<WeightFormat::PK4_128, false>,
                  E::template runPrepared<WeightFormat::Q8_0, false>};
  t.panel_runs_x2 = {E::template runPrepared<WeightFormat::Q4_0, true>, E::template runPrepared<WeightFormat::Q4_1, true>,
                     E::template runPrepared<WeightFormat::PK4, true>,
                     E::template runPrepared<WeightFormat::PK4_128, true>,
                     E::template runPrepared<WeightFormat::Q8_0, true>};
}

} // namespace mcc::kernels
