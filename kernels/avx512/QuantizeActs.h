// quantizeActs (QuantizedActs.h) in AVX-512, bit for bit: for the files
// compiled with AVX-512 flags (avx512/Gemm.cpp, avx512/Panel.cpp).
#pragma once

#include "kernels/QuantizedActs.h"

#include <cmath>
#include <immintrin.h>
#include <type_traits>

namespace mcc::kernels::avx512 {

// Lane i of the result: v[i]'s 16 lanes combined by op (max or add, both
// exact here: any order gives the same result). Four rounds of pairing the
// vectors: 15 operations and 30 shuffles for all 16, where a reduction of
// each vector on its own takes 4 of each in a serial chain (64 and 64).
template <class V, class Op> inline V combine16(const V (&v)[16], Op op) {
  auto ps = [](V a) { if constexpr (std::is_same_v<V, __m512>) return a; else return _mm512_castsi512_ps(a); };
  auto back = [](__m512 a) { if constexpr (std::is_same_v<V, __m512>) return a; else return _mm512_castps_si512(a); };
  V r1[8], r2[4], u[2];
  for (int i = 0; i < 8; ++i) // per 128 bits: [a0^a2, b0^b2, a1^a3, b1^b3]
    r1[i] = op(back(_mm512_unpacklo_ps(ps(v[2 * i]), ps(v[2 * i + 1]))),
               back(_mm512_unpackhi_ps(ps(v[2 * i]), ps(v[2 * i + 1]))));
  for (int i = 0; i < 4; ++i) { // per 128 bits: the four vectors' share of it
    __m512d a = _mm512_castps_pd(ps(r1[2 * i])), b = _mm512_castps_pd(ps(r1[2 * i + 1]));
    r2[i] = op(back(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b))), back(_mm512_castpd_ps(_mm512_unpackhi_pd(a, b))));
  }
  for (int i = 0; i < 2; ++i) // the 128-bit quarters pairwise
    u[i] = op(back(_mm512_shuffle_f32x4(ps(r2[2 * i]), ps(r2[2 * i + 1]), 0x88)),
              back(_mm512_shuffle_f32x4(ps(r2[2 * i]), ps(r2[2 * i + 1]), 0xDD)));
  return op(back(_mm512_shuffle_f32x4(ps(u[0]), ps(u[1]), 0x88)), back(_mm512_shuffle_f32x4(ps(u[0]), ps(u[1]), 0xDD)));
}

// Eight blocks (16 halves of 16) of one row at once: the halves' maxima,
// scales and sums as vectors of 16 lanes, the same operations as
// quantizeActBlock lane by lane.
template <bool Residual>
inline void quantize8(const float *p, int8_t *q, int8_t *r, float *dx, float *sx) {
  __m512 a[16], m[16];
  for (int h = 0; h < 16; ++h) {
    a[h] = _mm512_loadu_ps(p + 16 * h);
    m[h] = _mm512_abs_ps(a[h]);
  }
  const __m512 amax = combine16(m, [](__m512 x, __m512 y) { return _mm512_max_ps(x, y); });
  const __m512 inv = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(amax, _mm512_setzero_ps(), _CMP_GT_OQ),
                                         _mm512_set1_ps(127.0f), amax);
  const __m512 d = _mm512_div_ps(amax, _mm512_set1_ps(127.0f));
  _mm512_storeu_ps(dx, d);
  alignas(64) float invs[16];
  _mm512_store_ps(invs, inv);
  __m512i qi[16], ri[16];
  for (int h = 0; h < 16; ++h) {
    // Converted in the default rounding mode, to nearest even: nearbyint.
    __m512 v = _mm512_mul_ps(a[h], _mm512_set1_ps(invs[h]));
    qi[h] = _mm512_cvtps_epi32(v);
    if constexpr (Residual)
      ri[h] = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_sub_ps(v, _mm512_cvtepi32_ps(qi[h])), _mm512_set1_ps(254.0f)));
  }
  // Four halves' values (all within +-127) packed to bytes at once; the
  // packs interleave them by 128-bit lane, the permutation puts them back.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  auto store4 = [&](const __m512i *v, int8_t *to) {
    __m512i b = _mm512_packs_epi16(_mm512_packs_epi32(v[0], v[1]), _mm512_packs_epi32(v[2], v[3]));
    _mm512_storeu_si512(to, _mm512_permutexvar_epi32(order, b));
  };
  for (int h = 0; h < 16; h += 4) {
    store4(qi + h, q + 16 * h);
    if constexpr (Residual)
      store4(ri + h, r + 16 * h);
  }
  auto add = [](__m512i x, __m512i y) { return _mm512_add_epi32(x, y); };
  __m512 part = _mm512_cvtepi32_ps(combine16(qi, add));
  if constexpr (Residual)
    part = _mm512_fmadd_ps(_mm512_cvtepi32_ps(combine16(ri, add)), _mm512_set1_ps(kResidualScale), part);
  // sx of each block: d0 * part0, then + d1 * part1 (one rounding, as the
  // per-block loop's sum += d * part).
  alignas(64) float ds[16], parts[16];
  _mm512_store_ps(ds, d);
  _mm512_store_ps(parts, part);
  for (int b = 0; b < 8; ++b)
    sx[b] = std::fma(ds[2 * b + 1], parts[2 * b + 1], ds[2 * b] * parts[2 * b]);
}

// Quantizes T rows of K activations as quantizeActBlock: xq (and with
// Residual xr), and per block of 32 the two half scales (dx, interleaved)
// and the quantized sum (sx).
template <bool Residual>
inline void quantize(const float *x, int64_t K, int64_t T, int8_t *xq, int8_t *xr, float *dx, float *sx) {
  int64_t ns = K / 32;
  const __m512 res = _mm512_set1_ps(254.0f);
  for (int64_t t = 0; t < T; ++t) {
    int64_t s = 0;
    for (; s + 8 <= ns; s += 8)
      quantize8<Residual>(x + t * K + s * 32, xq + t * K + s * 32, Residual ? xr + t * K + s * 32 : nullptr,
                          dx + (t * ns + s) * 2, sx + t * ns + s);
    for (; s < ns; ++s) {
      const float *p = x + t * K + s * 32;
      int8_t *q = xq + t * K + s * 32;
      float sum = 0;
      for (int h = 0; h < 2; ++h) {
        __m512 a = _mm512_loadu_ps(p + 16 * h);
        float amax = _mm512_reduce_max_ps(_mm512_abs_ps(a));
        float inv = amax > 0 ? 127.0f / amax : 0.0f;
        __m512 v = _mm512_mul_ps(a, _mm512_set1_ps(inv));
        __m512 vq = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512i qi = _mm512_cvtps_epi32(vq);
        _mm_storeu_si128(reinterpret_cast<__m128i *>(q + 16 * h), _mm512_cvtsepi32_epi8(qi));
        float d = amax / 127.0f;
        dx[(t * ns + s) * 2 + h] = d;
        float part = float(_mm512_reduce_add_epi32(qi));
        if constexpr (Residual) {
          __m512i ri = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_sub_ps(v, vq), res));
          _mm_storeu_si128(reinterpret_cast<__m128i *>(xr + t * K + s * 32 + 16 * h), _mm512_cvtsepi32_epi8(ri));
          part += float(_mm512_reduce_add_epi32(ri)) * kResidualScale;
        }
        sum += d * part;
      }
      sx[t * ns + s] = sum;
    }
  }
}

} // namespace mcc::kernels::avx512
