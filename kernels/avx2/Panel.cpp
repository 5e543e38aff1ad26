// The panel kernels (PanelEngine.h) on AVX2: a 64-byte chunk is two vectors
// of 8 rows; four weights times four activations per row through vpmaddubsw
// (u8 x s8, pairs to i16: at most 2 * 15 * 127, never saturating) and
// vpmaddwd (pairs to i32). This file alone is compiled with AVX2/FMA/F16C;
// the AVX2 table, and the AVX-512 one on CPUs without VNNI, take these.
#include "kernels/Kernels.h"

#if defined(__x86_64__)
#include "format/Half.h"
#include "kernels/PanelEngine.h"

#include <immintrin.h>

namespace mcc::kernels {

namespace {

struct Avx2 {
  using VI = __m256i;
  using VF = __m256;
  static constexpr int kLanes = 8;
  // 16 registers: 4 * TT integer sums, TT float sums, the weights.
  template <bool Residual> static constexpr int kTokens = Residual ? 2 : 3;
  static constexpr float kNibbleScale = 1.0f;

  static VI zeroi() { return _mm256_setzero_si256(); }
  static VF zerof() { return _mm256_setzero_ps(); }
  static VI load(const uint8_t *p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)); }
  static VI low(VI w) { return _mm256_and_si256(w, _mm256_set1_epi8(0x0F)); }
  static VI high(VI w) { return _mm256_and_si256(_mm256_srli_epi16(w, 4), _mm256_set1_epi8(0x0F)); }
  static VI dot(VI acc, VI w, const int8_t *x4) {
    int32_t four;
    __builtin_memcpy(&four, x4, 4);
    __m256i pairs = _mm256_maddubs_epi16(w, _mm256_set1_epi32(four));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
  // Bytes up to 255 would saturate vpmaddubsw's pair sums: the two nibbles
  // apart, the high one's products shifted back up.
  static VI dot8(VI acc, VI w, const int8_t *x4) {
    VI hi = _mm256_slli_epi32(dot(_mm256_setzero_si256(), high(w), x4), 4);
    return dot(_mm256_add_epi32(acc, hi), low(w), x4);
  }
  static VF cvt(VI v) { return _mm256_cvtepi32_ps(v); }
  static VF fma(VF a, VF b, VF c) { return _mm256_fmadd_ps(a, b, c); }
  static VF mul(VF a, VF b) { return _mm256_mul_ps(a, b); }
  static VF set1(float f) { return _mm256_set1_ps(f); }
  static void store(float *y, VF v, unsigned lanes) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    __m256i mask = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(lanes)), bit), bit);
    _mm256_maskstore_ps(y, mask, v);
  }

  // 8 rows' headers, row after row (format/Panel.h).
  template <WeightFormat F> static void scales(const uint8_t *h, VF &d, VF &m) {
    if constexpr (F == WeightFormat::Q4_0 || F == WeightFormat::Q8_0) {
      d = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(h)));
      m = _mm256_mul_ps(d, _mm256_set1_ps(F == WeightFormat::Q8_0 ? -128.0f : -8.0f));
    } else if constexpr (F == WeightFormat::Q4_1) {
      // 8 x {f16 d, f16 m}: the d halves to the low 8 bytes of each 128-bit
      // lane, the m halves to the high, then the lanes' quarters in order.
      __m256i dm = load(h);
      const __m256i split = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15, 0, 1, 4, 5, 8, 9,
                                             12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
      __m256i s = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(dm, split), 0xD8);
      d = _mm256_cvtph_ps(_mm256_castsi256_si128(s));
      m = _mm256_cvtph_ps(_mm256_extracti128_si256(s, 1));
    } else { // 8 x {f32 d, f32 m}
      __m256 a = _mm256_loadu_ps(reinterpret_cast<const float *>(h));
      __m256 b = _mm256_loadu_ps(reinterpret_cast<const float *>(h + 32));
      d = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
      m = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
    }
  }

  template <bool Residual>
  static void quantize(const float *x, int64_t K, int64_t T, int8_t *xq, int8_t *xr, float *dx, float *sx) {
    quantizeActs<Residual>(x, K, T, xq, xr, dx, sx);
  }
};

} // namespace

void fillAvx2Panels(KernelTable &t) {
  fillPanels<PanelEngine<Avx2>>(t);
  fillPreparedPanels<PanelEngine<Avx2>>(t);
}

} // namespace mcc::kernels

#else
namespace mcc::kernels {
void fillAvx2Panels(KernelTable &) {}
} // namespace mcc::kernels
#endif
