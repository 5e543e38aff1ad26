// AVX2 + FMA versions of the kernels in generic/Dot.cpp. This file alone is
// compiled with -mavx2 -mfma; the dispatcher only calls it on CPUs that
// have both.
#include "compiler/import/Half.h"
#include "kernels/Kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

namespace mcc::kernels {

namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float halfToFloat(const uint8_t *p) {
  uint16_t h;
  __builtin_memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

// 32 nibbles of a 4-bit block as bytes 0..15: low nibbles first, as stored.
inline __m256i unpackNibbles(const uint8_t *qs) {
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i *>(qs));
  __m256i both = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Signed int8 x signed int8 -> 8 int32 partial sums, by moving the sign of
// a onto b so maddubs (unsigned x signed) applies.
inline __m256i dotI8(__m256i a, __m256i b) {
  __m256i prod = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
  return _mm256_madd_epi16(prod, _mm256_set1_epi16(1));
}

void quantizeAvx2(const float *x, QBlock8 *out, int64_t n) {
  const __m256 signBit = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      v[i] = _mm256_loadu_ps(x + 8 * i);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(signBit, v[i]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    float d = _mm_cvtss_f32(m) / 127.0f, id = d ? 1.0f / d : 0.0f;
    __m256 mul = _mm256_set1_ps(id);
    __m256i q[4];
    for (int i = 0; i < 4; ++i)
      q[i] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[i], mul), _MM_ROUND_NEAREST | _MM_FROUND_NO_EXC));
    __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    // Pack 32 int32 to 32 int8; packs interleave 128-bit lanes, so fix the order after.
    __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
    __m256i p8 = _mm256_packs_epi16(p16a, p16b);
    p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(out[b].q), p8);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
    s = _mm_hadd_epi32(s, s);
    s = _mm_hadd_epi32(s, s);
    out[b].d = d;
    out[b].dsum = d * float(_mm_cvtsi128_si32(s));
  }
}

float dotQ4_0Avx2(const uint8_t *w, const QBlock8 *x, int64_t nb) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  auto one = [&](const uint8_t *blk, const QBlock8 &xb, __m256 &acc) {
    __m256i q = _mm256_sub_epi8(unpackNibbles(blk + 2), _mm256_set1_epi8(8));
    __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb.q));
    __m256 s = _mm256_cvtepi32_ps(dotI8(q, xv));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(halfToFloat(blk) * xb.d), s, acc);
  };
  int64_t b = 0;
  for (; b + 1 < nb; b += 2, w += 36) {
    _mm_prefetch(reinterpret_cast<const char *>(w) + 576, _MM_HINT_T0);
    one(w, x[b], acc0);
    one(w + 18, x[b + 1], acc1);
  }
  if (b < nb)
    one(w, x[b], acc0);
  return hsum(_mm256_add_ps(acc0, acc1));
}

// Two blocks per step into two accumulators: one block's work is too short
// to hide the FMA latency, and the loads of the next rows are prefetched.
float dotQ4_1Avx2(const uint8_t *w, const QBlock8 *x, int64_t nb) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  __m128 mins = _mm_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1);
  int64_t b = 0;
  auto one = [&](const uint8_t *blk, const QBlock8 &xb, __m256 &acc) {
    __m128i dm = _mm_cvtsi32_si128(int(loadU32(blk)));
    __m128 dmf = _mm_cvtph_ps(dm); // d, m
    __m256i q = unpackNibbles(blk + 4);
    __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb.q));
    __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(q, xv), ones));
    __m128 dx = _mm_mul_ps(dmf, _mm_setr_ps(xb.d, xb.dsum, 0, 0)); // d*dx, m*dsum
    acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(dx), s, acc);
    mins = _mm_add_ps(mins, dx);
  };
  for (; b + 1 < nb; b += 2, w += 40) {
    _mm_prefetch(reinterpret_cast<const char *>(w) + 640, _MM_HINT_T0);
    one(w, x[b], acc0);
    one(w + 20, x[b + 1], acc1);
  }
  if (b < nb)
    one(w, x[b], acc0);
  // Lane 1 of mins holds the sum of m * dsum; lane 0 is unused.
  return hsum(_mm256_add_ps(acc0, acc1)) + _mm_cvtss_f32(_mm_movehdup_ps(mins));
}

float dotQ8_0Avx2(const uint8_t *w, const QBlock8 *x, int64_t nb) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  auto one = [&](const uint8_t *blk, const QBlock8 &xb, __m256 &acc) {
    __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + 2));
    __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xb.q));
    __m256 s = _mm256_cvtepi32_ps(dotI8(q, xv));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(halfToFloat(blk) * xb.d), s, acc);
  };
  int64_t b = 0;
  for (; b + 1 < nb; b += 2, w += 68) {
    _mm_prefetch(reinterpret_cast<const char *>(w) + 1088, _MM_HINT_T0);
    one(w, x[b], acc0);
    one(w + 34, x[b + 1], acc1);
  }
  if (b < nb)
    one(w, x[b], acc0);
  return hsum(_mm256_add_ps(acc0, acc1));
}

float dotF32Avx2(const float *a, const float *b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  float s = hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

// sum over one block of q[i] * x[i], q given as 32 bytes (0..15 or int8):
// widen 8 at a time to float and FMA into two chains.
template <bool Signed> inline __m256 blockDot(__m256i q, const float *x) {
  __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  auto widen = [](__m128i v) { return _mm256_cvtepi32_ps(Signed ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v)); };
  __m256 a = _mm256_mul_ps(widen(lo), _mm256_loadu_ps(x));
  __m256 b = _mm256_mul_ps(widen(_mm_srli_si128(lo, 8)), _mm256_loadu_ps(x + 8));
  a = _mm256_fmadd_ps(widen(hi), _mm256_loadu_ps(x + 16), a);
  b = _mm256_fmadd_ps(widen(_mm_srli_si128(hi, 8)), _mm256_loadu_ps(x + 24), b);
  return _mm256_add_ps(a, b);
}

float dotQ4_0FAvx2(const uint8_t *w, const float *x, const float *xsum, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  float offs = 0;
  for (int64_t b = 0; b < nb; ++b, w += 18, x += 32) {
    _mm_prefetch(reinterpret_cast<const char *>(w) + 576, _MM_HINT_T0);
    float d = halfToFloat(w);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), blockDot<false>(unpackNibbles(w + 2), x), acc);
    offs += d * xsum[b];
  }
  return hsum(acc) - 8.0f * offs;
}

float dotQ4_1FAvx2(const uint8_t *w, const float *x, const float *xsum, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  float offs = 0;
  for (int64_t b = 0; b < nb; ++b, w += 20, x += 32) {
    _mm_prefetch(reinterpret_cast<const char *>(w) + 640, _MM_HINT_T0);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(halfToFloat(w)), blockDot<false>(unpackNibbles(w + 4), x), acc);
    offs += halfToFloat(w + 2) * xsum[b];
  }
  return hsum(acc) + offs;
}

float dotQ8_0FAvx2(const uint8_t *w, const float *x, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b, w += 34, x += 32) {
    _mm_prefetch(reinterpret_cast<const char *>(w) + 1088, _MM_HINT_T0);
    __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(w + 2));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(halfToFloat(w)), blockDot<true>(q, x), acc);
  }
  return hsum(acc);
}

} // namespace

const DotTable *avx2Table() {
  static const DotTable t{"avx2",     quantizeAvx2, dotQ4_0Avx2,  dotQ4_1Avx2, dotQ8_0Avx2,
                          dotF32Avx2, dotQ4_0FAvx2, dotQ4_1FAvx2, dotQ8_0FAvx2};
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                         __builtin_cpu_supports("f16c");
  return ok ? &t : nullptr;
}

} // namespace mcc::kernels

#else
namespace mcc::kernels {
const DotTable *avx2Table() { return nullptr; }
} // namespace mcc::kernels
#endif
