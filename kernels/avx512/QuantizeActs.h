// quantizeActs (QuantizedActs.h) in AVX-512, bit for bit: for the files
// compiled with AVX-512 flags (avx512/Gemm.cpp, avx512/Panel.cpp).
#pragma once

#include "kernels/QuantizedActs.h"

#include <immintrin.h>

namespace mcc::kernels::avx512 {

// Quantizes T rows of K activations as quantizeActBlock: xq (and with
// Residual xr), and per block of 32 the two half scales (dx, interleaved)
// and the quantized sum (sx).
template <bool Residual>
inline void quantize(const float *x, int64_t K, int64_t T, int8_t *xq, int8_t *xr, float *dx, float *sx) {
  int64_t ns = K / 32;
  const __m512 res = _mm512_set1_ps(254.0f);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t s = 0; s < ns; ++s) {
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

} // namespace mcc::kernels::avx512
