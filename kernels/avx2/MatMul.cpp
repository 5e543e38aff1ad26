// AVX2 + FMA + F16C block kernels. This file alone is compiled with those
// flags; the dispatcher calls it only on CPUs that have all three.
#include "kernels/Kernels.h"

#if defined(__x86_64__)
#include "format/Dequant.h"
#include "format/Half.h"
#include "kernels/Activation.h"
#include "kernels/AttentionEngine.h"
#include "kernels/RmsNorm.h"
#include "kernels/TileEngine.h"

#include <immintrin.h>

namespace mcc::kernels {

namespace {

struct Avx2 {
  using V = __m256;
  static constexpr int W = 8;
  static constexpr int kDecodeRows = 1, kPrefillRows = 1, kPrefillTokens = 4;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float *p) { return _mm256_loadu_ps(p); }
  static V fma(V a, V b, V acc) { return _mm256_fmadd_ps(a, b, acc); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V broadcast(float f) { return _mm256_set1_ps(f); }
  static V loadHalf(const uint16_t *p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p))); }
  static V loadI8(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p))));
  }
  static void store(float *p, V v) { _mm256_storeu_ps(p, v); }
  static float sum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  // For attention (AttentionEngine.h).
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static float hmax(V v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static V round(V v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V scale2(V p, V n) {
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  }
  static V exp(V x) { return expPoly<Avx2>(x); }
  // For RMS normalization (RmsNorm.h): sums 0-3, then 4-7.
  struct D8 {
    __m256d lo, hi;
  };
  static D8 zero8() { return {_mm256_setzero_pd(), _mm256_setzero_pd()}; }
  static D8 addSquares(D8 a, const float *x) {
    __m256d l = _mm256_cvtps_pd(_mm_loadu_ps(x)), h = _mm256_cvtps_pd(_mm_loadu_ps(x + 4));
    return {_mm256_fmadd_pd(l, l, a.lo), _mm256_fmadd_pd(h, h, a.hi)}; // exact products: a multiply, then an add
  }
  static void spill(D8 a, double *out) {
    _mm256_storeu_pd(out, a.lo);
    _mm256_storeu_pd(out + 4, a.hi);
  }
};

inline __m256 half(const uint8_t *p) { return _mm256_set1_ps(_cvtsh_ss(loadU16(p))); }

// Eight bytes of v, from byte At, as eight floats.
template <int At> inline __m256 u8f(__m128i v) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(v, At)));
}
template <int At> inline __m256 i8f(__m128i v) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(v, At)));
}

// Low nibbles are elements 0..15, high nibbles 16..31 (GGML's order).
inline void nibbles(const uint8_t *qs, __m128i &lo, __m128i &hi) {
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i *>(qs)), m = _mm_set1_epi8(0x0F);
  lo = _mm_and_si128(b, m);
  hi = _mm_and_si128(_mm_srli_epi16(b, 4), m);
}

// Each expansion computes float(q) * d (+ m), as the scalar dequantization does.
void expandQ4_0(const uint8_t *blk, int, __m256 *o) {
  __m256 d = half(blk);
  __m128i lo, hi;
  nibbles(blk + 2, lo, hi);
  __m128i eight = _mm_set1_epi8(8);
  lo = _mm_sub_epi8(lo, eight);
  hi = _mm_sub_epi8(hi, eight);
  o[0] = _mm256_mul_ps(i8f<0>(lo), d);
  o[1] = _mm256_mul_ps(i8f<8>(lo), d);
  o[2] = _mm256_mul_ps(i8f<0>(hi), d);
  o[3] = _mm256_mul_ps(i8f<8>(hi), d);
}

// 32 nibbles as q * d + m: Q4_1 (f16 d, m) and PK4 (f32 d, m) differ only
// in where d and m come from.
inline void nibblesAffine(const uint8_t *qs, __m256 d, __m256 m, __m256 *o) {
  __m128i lo, hi;
  nibbles(qs, lo, hi);
  o[0] = _mm256_add_ps(_mm256_mul_ps(u8f<0>(lo), d), m);
  o[1] = _mm256_add_ps(_mm256_mul_ps(u8f<8>(lo), d), m);
  o[2] = _mm256_add_ps(_mm256_mul_ps(u8f<0>(hi), d), m);
  o[3] = _mm256_add_ps(_mm256_mul_ps(u8f<8>(hi), d), m);
}

void expandQ4_1(const uint8_t *blk, int, __m256 *o) { nibblesAffine(blk + 4, half(blk), half(blk + 2), o); }

void expandQ8_0(const uint8_t *blk, int, __m256 *o) {
  __m256 d = half(blk);
  __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + 2));
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + 18));
  o[0] = _mm256_mul_ps(i8f<0>(a), d);
  o[1] = _mm256_mul_ps(i8f<8>(a), d);
  o[2] = _mm256_mul_ps(i8f<0>(b), d);
  o[3] = _mm256_mul_ps(i8f<8>(b), d);
}

inline __m256 f32at(const uint8_t *p) { return _mm256_set1_ps(bitsToFloat(loadU32(p))); }

void expandPK4(const uint8_t *blk, int, __m256 *o) { nibblesAffine(blk + 8, f32at(blk), f32at(blk + 4), o); }

void expandPK4_128(const uint8_t *blk, int sub, __m256 *o) {
  nibblesAffine(blk + 8 + 16 * sub, f32at(blk), f32at(blk + 4), o);
}

void expandPK8(const uint8_t *blk, int, __m256 *o) {
  __m256 d = f32at(blk), m = f32at(blk + 4);
  __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + 8));
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + 24));
  o[0] = _mm256_add_ps(_mm256_mul_ps(u8f<0>(a), d), m);
  o[1] = _mm256_add_ps(_mm256_mul_ps(u8f<8>(a), d), m);
  o[2] = _mm256_add_ps(_mm256_mul_ps(u8f<0>(b), d), m);
  o[3] = _mm256_add_ps(_mm256_mul_ps(u8f<8>(b), d), m);
}

void expandF16(const uint8_t *blk, int, __m256 *o) {
  for (int i = 0; i < 4; ++i)
    o[i] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + 16 * i)));
}

void expandBF16(const uint8_t *blk, int, __m256 *o) {
  for (int i = 0; i < 4; ++i) {
    __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + 16 * i)));
    o[i] = _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
  }
}

void expandF32(const uint8_t *blk, int, __m256 *o) {
  for (int i = 0; i < 4; ++i)
    o[i] = _mm256_loadu_ps(reinterpret_cast<const float *>(blk) + 8 * i);
}

float dotAvx2(const float *a, const float *b, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  float s = Avx2::sum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

// F16C's conversion rounds to nearest even and keeps subnormals, infinities
// and NaN payloads as floatToFp16 does.
void toF16Avx2(const float *src, uint16_t *dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i *>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  toF16Scalar(src + i, dst + i, n - i);
}

} // namespace

void fillAvx2Int8(KernelTable &t);   // avx2/Gemm.cpp
void fillAvx2Panels(KernelTable &t); // avx2/Panel.cpp

const KernelTable *avx2Table() {
  static const KernelTable t = [] {
    KernelTable k{"avx2",
                             BlockEngine<Avx2, 18, expandQ4_0>::run,
                             BlockEngine<Avx2, 20, expandQ4_1>::run,
                             BlockEngine<Avx2, 34, expandQ8_0>::run,
                             BlockEngine<Avx2, kPK4Bytes, expandPK4>::run,
                             BlockEngine<Avx2, kPK8Bytes, expandPK8>::run,
                             BlockEngine<Avx2, 64, expandF16>::run,
                             BlockEngine<Avx2, 64, expandBF16>::run,
                             BlockEngine<Avx2, 128, expandF32>::run,
                             BlockEngine<Avx2, kPK4_128Bytes, expandPK4_128, 128>::run,
                             nullptr, nullptr, nullptr, nullptr,
                             nullptr, nullptr, nullptr, nullptr,
                             dotAvx2,
                             AttentionEngine<Avx2>::run,
                             Activation<Avx2>::run};
    k.attend_i8 = AttentionEngine<Avx2, true>::run;
    fillAvx2Int8(k);
    fillAvx2Panels(k);
    k.to_f16 = toF16Avx2;
    k.rms_norm = RmsNorm<Avx2>::run;
    return k;
  }();
  return &t;
}

} // namespace mcc::kernels

#else
namespace mcc::kernels {
const KernelTable *avx2Table() { return nullptr; }
} // namespace mcc::kernels
#endif
