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

// The 4-bit formats as (d, m, 32 unsigned nibbles in natural order) for the
// sub-th 32 weights of a block.
struct Q4Sub {
  float d, m;
  uint8_t q[32];
};

template <WeightFormat F> struct Q4Layout;
// GGML's nibble order: byte i holds weight i (low) and weight i + 16 (high).
inline void nibbles(const uint8_t *qs, uint8_t *q) {
  for (int i = 0; i < 16; ++i) {
    q[i] = qs[i] & 0xF;
    q[i + 16] = qs[i] >> 4;
  }
}
template <> struct Q4Layout<WeightFormat::Q4_0> {
  static constexpr int kBytes = 18, kWeights = 32;
  static void sub(const uint8_t *b, int, Q4Sub &s) {
    s.d = fp16ToFloat(loadU16(b));
    s.m = -8.0f * s.d;
    nibbles(b + 2, s.q);
  }
};
template <> struct Q4Layout<WeightFormat::Q4_1> {
  static constexpr int kBytes = 20, kWeights = 32;
  static void sub(const uint8_t *b, int, Q4Sub &s) {
    s.d = fp16ToFloat(loadU16(b));
    s.m = fp16ToFloat(loadU16(b + 2));
    nibbles(b + 4, s.q);
  }
};
template <> struct Q4Layout<WeightFormat::PK4> {
  static constexpr int kBytes = kPK4Bytes, kWeights = 32;
  static void sub(const uint8_t *b, int, Q4Sub &s) {
    s.d = bitsToFloat(loadU32(b));
    s.m = bitsToFloat(loadU32(b + 4));
    nibbles(b + 8, s.q);
  }
};
template <> struct Q4Layout<WeightFormat::PK4_128> {
  static constexpr int kBytes = kPK4_128Bytes, kWeights = 128;
  static void sub(const uint8_t *b, int sub, Q4Sub &s) {
    s.d = bitsToFloat(loadU32(b));
    s.m = bitsToFloat(loadU32(b + 4));
    nibbles(b + 8 + 16 * sub, s.q);
  }
};

} // namespace mcc::kernels
