// AVX-512 (F, BW, VL) block kernels. This file alone is compiled with those
// flags; the dispatcher calls it only on CPUs that have them.
//
// A 4-bit block expands through a 16-entry table: the table holds
// float(q) * d (+ m) for q = 0..15, computed once per block, and
// vpermps picks from it with each nibble as the index (it reads only an
// index's low 4 bits, so the high nibble needs no mask).
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

struct Avx512 {
  using V = __m512;
  static constexpr int W = 16;
  static constexpr int kDecodeRows = 1, kPrefillRows = 2, kPrefillTokens = 4;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float *p) { return _mm512_loadu_ps(p); }
  static V fma(V a, V b, V acc) { return _mm512_fmadd_ps(a, b, acc); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V broadcast(float f) { return _mm512_set1_ps(f); }
  static V loadHalf(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)));
  }
  static V loadI8(const int8_t *p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p))));
  }
  static void store(float *p, V v) { _mm512_storeu_ps(p, v); }
  static float sum(V v) { return _mm512_reduce_add_ps(v); }
  // For attention (AttentionEngine.h).
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static float hmax(V v) { return _mm512_reduce_max_ps(v); }
  static V round(V v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static V scale2(V p, V n) { return _mm512_scalef_ps(p, n); }
  static V exp(V x) { return expPoly<Avx512>(x); }
  // For RMS normalization (RmsNorm.h).
  using D8 = __m512d;
  static D8 zero8() { return _mm512_setzero_pd(); }
  static D8 addSquares(D8 a, const float *x) {
    __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(x));
    return _mm512_fmadd_pd(v, v, a); // the product is exact: as a multiply, then an add
  }
  static void spill(D8 a, double *out) { _mm512_storeu_pd(out, a); }
};

inline __m512 half(const uint8_t *p) { return _mm512_set1_ps(_cvtsh_ss(loadU16(p))); }

inline __m512 iota(float from) {
  return _mm512_add_ps(_mm512_set1_ps(from),
                       _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}

inline void lookup(const uint8_t *qs, __m512 table, __m512 *o) {
  __m512i q = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(qs)));
  o[0] = _mm512_permutexvar_ps(q, table);
  o[1] = _mm512_permutexvar_ps(_mm512_srli_epi32(q, 4), table);
}

void expandQ4_0(const uint8_t *blk, int, __m512 *o) { lookup(blk + 2, _mm512_mul_ps(iota(-8), half(blk)), o); }

void expandQ4_1(const uint8_t *blk, int, __m512 *o) {
  lookup(blk + 4, _mm512_add_ps(_mm512_mul_ps(iota(0), half(blk)), half(blk + 2)), o);
}

void expandQ8_0(const uint8_t *blk, int, __m512 *o) {
  __m512 d = half(blk);
  for (int i = 0; i < 2; ++i) {
    __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + 2 + 16 * i));
    o[i] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), d);
  }
}

inline __m512 f32at(const uint8_t *p) { return _mm512_set1_ps(bitsToFloat(loadU32(p))); }

void expandPK4(const uint8_t *blk, int, __m512 *o) {
  lookup(blk + 8, _mm512_add_ps(_mm512_mul_ps(iota(0), f32at(blk)), f32at(blk + 4)), o);
}

void expandPK4_128(const uint8_t *blk, int sub, __m512 *o) {
  lookup(blk + 8 + 16 * sub, _mm512_add_ps(_mm512_mul_ps(iota(0), f32at(blk)), f32at(blk + 4)), o);
}

void expandPK8(const uint8_t *blk, int, __m512 *o) {
  __m512 d = f32at(blk), m = f32at(blk + 4);
  for (int i = 0; i < 2; ++i) {
    __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + 8 + 16 * i));
    o[i] = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(q)), d), m);
  }
}

void expandF16(const uint8_t *blk, int, __m512 *o) {
  for (int i = 0; i < 2; ++i)
    o[i] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + 32 * i)));
}

void expandBF16(const uint8_t *blk, int, __m512 *o) {
  for (int i = 0; i < 2; ++i) {
    __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + 32 * i)));
    o[i] = _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
  }
}

void expandF32(const uint8_t *blk, int, __m512 *o) {
  for (int i = 0; i < 2; ++i)
    o[i] = _mm512_loadu_ps(reinterpret_cast<const float *>(blk) + 16 * i);
}

float dotAvx512(const float *a, const float *b, int64_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  if (i + 16 <= n) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    i += 16;
  }
  if (i < n) {
    __mmask16 k = __mmask16((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

} // namespace

void fillAvx512Vnni(KernelTable &t);   // avx512/Gemm.cpp
bool fillAvx512Panels(KernelTable &t);    // avx512/Panel.cpp
bool fillAvx512JitPanels(KernelTable &t); // avx512/Panel.cpp

namespace {

// The AVX-512 table; with `vnni` (and a CPU that has it), its integer
// kernels and panels too.
KernelTable makeAvx512Table(const char *isa, bool vnni) {
  KernelTable k{isa,
                BlockEngine<Avx512, 18, expandQ4_0>::run,
                BlockEngine<Avx512, 20, expandQ4_1>::run,
                BlockEngine<Avx512, 34, expandQ8_0>::run,
                BlockEngine<Avx512, kPK4Bytes, expandPK4>::run,
                BlockEngine<Avx512, kPK8Bytes, expandPK8>::run,
                BlockEngine<Avx512, 64, expandF16>::run,
                BlockEngine<Avx512, 64, expandBF16>::run,
                BlockEngine<Avx512, 128, expandF32>::run,
                BlockEngine<Avx512, kPK4_128Bytes, expandPK4_128, 128>::run,
                nullptr, nullptr, nullptr, nullptr,
                nullptr, nullptr, nullptr, nullptr,
                dotAvx512,
                AttentionEngine<Avx512>::run,
                Activation<Avx512>::run};
  k.attend_i8 = AttentionEngine<Avx512, true>::run;
  if (vnni)
    fillAvx512Vnni(k);
  // F16C's 256-bit conversion, as the AVX2 table has it (every AVX-512 CPU has F16C).
  k.to_f16 = avx2Table()->to_f16;
  k.rms_norm = RmsNorm<Avx512>::run;
  // Without VNNI, AVX2's panel kernels (every AVX-512 CPU has AVX2).
  if (!vnni || !fillAvx512Panels(k)) {
    k.panels = avx2Table()->panels;
    k.panels_x2 = avx2Table()->panels_x2;
    k.panel_prepare = avx2Table()->panel_prepare;
    k.panel_runs = avx2Table()->panel_runs;
    k.panel_runs_x2 = avx2Table()->panel_runs_x2;
  }
  return k;
}

} // namespace

const KernelTable *avx512Table() {
  static const KernelTable t = makeAvx512Table("avx512", true);
  return &t;
}

const KernelTable *avx512NoVnniTable() {
  static const KernelTable t = makeAvx512Table("avx512-novnni", false);
  return &t;
}

const KernelTable *avx512JitTable() {
  static const KernelTable *t = []() -> const KernelTable * {
    static KernelTable k = *avx512Table();
    k.isa = "avx512+jit";
    return fillAvx512JitPanels(k) ? &k : nullptr;
  }();
  return t;
}

} // namespace mcc::kernels

#else
namespace mcc::kernels {
const KernelTable *avx512Table() { return nullptr; }
const KernelTable *avx512NoVnniTable() { return nullptr; }
const KernelTable *avx512JitTable() { return nullptr; }
} // namespace mcc::kernels
#endif
