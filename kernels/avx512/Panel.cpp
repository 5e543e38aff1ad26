// The panel kernels (PanelEngine.h) on AVX-512 VNNI: one vpdpbusd adds four
// weights times four activations into each of 16 rows. Two versions of the
// tiles: the intrinsics' (the avx512 table), and code generated at start-up
// for each matrix shape (jit/PanelTileGen.h; the avx512+jit table). This file alone is
// compiled with AVX-512 F/BW/VL + VNNI; the AVX-512 table takes these
// entries only on CPUs with VNNI (without it, the AVX2 ones: avx2/Panel.cpp).
#include "kernels/Kernels.h"

#if defined(__x86_64__)
#include "format/Half.h"
#include "kernels/PanelEngine.h"
#include "kernels/avx512/QuantizeActs.h"
#include "kernels/jit/PanelTileGen.h"

#include <chrono>
#include <immintrin.h>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace mcc::kernels {

namespace {

struct Vnni {
  using VI = __m512i;
  using VF = __m512;
  static constexpr int kLanes = 16;
  // Registers: 4 * TT integer sums and TT float sums of 32.
  template <bool Residual> static constexpr int kTokens = Residual ? 4 : 8;
  // Both nibbles as 16 q (the high one in place, w & 0xF0: one operation
  // fewer), the 1/16 folded into the weight scale: vpdpbusd does not
  // saturate, and the sums stay far below 2^24 (exact in f32).
  static constexpr float kNibbleScale = 1.0f / 16.0f;

  static VI zeroi() { return _mm512_setzero_si512(); }
  static VF zerof() { return _mm512_setzero_ps(); }
  static VI load(const uint8_t *p) { return _mm512_loadu_si512(p); }
  static VI low(VI w) { return _mm512_and_si512(_mm512_slli_epi16(w, 4), _mm512_set1_epi8(char(0xF0))); }
  static VI high(VI w) { return _mm512_and_si512(w, _mm512_set1_epi8(char(0xF0))); }
  static VI dot(VI acc, VI w, const int8_t *x4) {
    int32_t four;
    __builtin_memcpy(&four, x4, 4);
    return _mm512_dpbusd_epi32(acc, w, _mm512_set1_epi32(four));
  }
  static VI dot8(VI acc, VI w, const int8_t *x4) { return dot(acc, w, x4); }
  static VF cvt(VI v) { return _mm512_cvtepi32_ps(v); }
  static VF fma(VF a, VF b, VF c) { return _mm512_fmadd_ps(a, b, c); }
  static VF mul(VF a, VF b) { return _mm512_mul_ps(a, b); }
  static VF set1(float f) { return _mm512_set1_ps(f); }
  static void store(float *y, VF v, unsigned lanes) { _mm512_mask_storeu_ps(y, __mmask16(lanes), v); }

  // 16 rows' headers, row after row (format/Panel.h).
  template <WeightFormat F> static void scales(const uint8_t *h, VF &d, VF &m) {
    if constexpr (F == WeightFormat::Q4_0 || F == WeightFormat::Q8_0) {
      d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(h)));
      m = _mm512_mul_ps(d, _mm512_set1_ps(F == WeightFormat::Q8_0 ? -128.0f : -8.0f));
    } else if constexpr (F == WeightFormat::Q4_1) {
      __m512i dm = _mm512_loadu_si512(h); // 16 x {f16 d, f16 m}
      d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dm));
      m = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dm, 16)));
    } else { // 16 x {f32 d, f32 m}
      __m512 a = _mm512_loadu_ps(h), b = _mm512_loadu_ps(h + 64);
      const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
      d = _mm512_permutex2var_ps(a, even, b);
      m = _mm512_permutex2var_ps(a, odd, b);
    }
  }

  template <bool Residual>
  static void quantize(const float *x, int64_t K, int64_t T, int8_t *xq, int8_t *xr, float *dx, float *sx) {
    avx512::quantize<Residual>(x, K, T, xq, xr, dx, sx);
  }
};

// The generated tiles (jit/PanelTileGen.h) of one layout and K, every
// width; `failed` when the code could not be generated (the intrinsics'
// tiles run instead).
struct JitSet {
  std::unique_ptr<jit::PanelTile> tiles[2][8]; // [residual][tokens - 1]
  bool failed = false;
};

struct JitCache {
  std::mutex mutex;
  std::vector<std::pair<std::pair<WeightFormat, int64_t>, std::unique_ptr<JitSet>>> sets;
  JitStats stats;

  const JitSet &get(WeightFormat f, int64_t K) {
    std::lock_guard<std::mutex> lock(mutex);
    for (auto &[key, set] : sets)
      if (key == std::pair(f, K))
        return *set;
    auto start = std::chrono::steady_clock::now();
    auto set = std::make_unique<JitSet>();
    try {
      for (int r = 0; r < 2; ++r)
        for (int n = 1; n <= jit::maxTokens(r); ++n) {
          set->tiles[r][n - 1] = std::make_unique<jit::PanelTile>(f, r, n, K);
          stats.kernels++;
          stats.bytes += set->tiles[r][n - 1]->bytes();
        }
    } catch (const std::exception &) {
      set->failed = true;
      stats.failed++;
    }
    stats.ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    sets.emplace_back(std::pair(f, K), std::move(set));
    return *sets.back().second;
  }
};

JitCache &jitCache() {
  static JitCache c; // never destroyed before the threads that use it
  return c;
}

// Each thread remembers the sets it used: no lock after the first product
// of each shape.
const JitSet &jitSet(WeightFormat f, int64_t K) {
  thread_local std::vector<std::pair<std::pair<WeightFormat, int64_t>, const JitSet *>> seen;
  for (auto &[key, set] : seen)
    if (key == std::pair(f, K))
      return *set;
  const JitSet &set = jitCache().get(f, K);
  seen.emplace_back(std::pair(f, K), &set);
  return set;
}

template <WeightFormat F, bool Residual> struct JitTiles {
  static constexpr int kMax = jit::maxTokens(Residual);
  static constexpr bool kOffsets = jit::foldsOffset(F, Residual);
  static_assert(kMax == Vnni::kTokens<Residual>);
  const JitSet *set;
  // Generated code has no function-type signature before it for UBSan's
  // -fsanitize=function to read.
#if defined(__clang__)
  __attribute__((no_sanitize("function")))
#endif
  void operator()(const uint8_t *panel, int n, const PanelEngine<Vnni>::TileInputs &in, int64_t, float *y,
                  int64_t ldy, unsigned rows) const {
    jit::TileArgs a{panel, in.xq, in.xr, in.dx, in.sx, y, ldy, rows, in.xo};
    set->tiles[Residual][n - 1]->fn()(&a);
  }
};

struct JitEngine {
  template <WeightFormat F, bool Residual>
  static void run(const uint8_t *w, const float *x, float *y, int64_t K, int64_t T, int64_t ldy, int64_t r0,
                  int64_t r1) {
    const JitSet &set = jitSet(F, K);
    if (set.failed)
      return PanelEngine<Vnni>::run<F, Residual>(w, x, y, K, T, ldy, r0, r1);
    PanelEngine<Vnni>::runWith<F, Residual>(JitTiles<F, Residual>{&set}, w, x, y, K, T, ldy, r0, r1);
  }
  static constexpr auto prepare = PanelEngine<Vnni>::prepare;
  template <WeightFormat F, bool Residual>
  static void runPrepared(const uint8_t *w, const QuantizedRows &a, float *y, int64_t ldy, int64_t r0, int64_t r1) {
    const JitSet &set = jitSet(F, a.K);
    if (set.failed)
      return PanelEngine<Vnni>::runPrepared<F, Residual>(w, a, y, ldy, r0, r1);
    PanelEngine<Vnni>::runPreparedWith<F, Residual>(JitTiles<F, Residual>{&set}, w, a, y, ldy, r0, r1);
  }
};

void prepareJit(WeightFormat f, int64_t K) {
  if (panelable(f) && K % blockShape(f).weights == 0)
    jitSet(f, K);
}

} // namespace

// The panel entries of an AVX-512 table, when this CPU has VNNI.
bool fillAvx512Panels(KernelTable &t) {
  if (!__builtin_cpu_supports("avx512vnni"))
    return false;
  fillPanels<PanelEngine<Vnni>>(t);
  fillPreparedPanels<PanelEngine<Vnni>>(t);
  return true;
}

// The same with the JIT's tiles.
bool fillAvx512JitPanels(KernelTable &t) {
  if (!__builtin_cpu_supports("avx512vnni"))
    return false;
  fillPanels<JitEngine>(t);
  fillPreparedPanels<JitEngine>(t);
  t.prepare = prepareJit;
  return true;
}

JitStats jitStats() {
  std::lock_guard<std::mutex> lock(jitCache().mutex);
  return jitCache().stats;
}

} // namespace mcc::kernels

#else
namespace mcc::kernels {
bool fillAvx512Panels(KernelTable &) { return false; }
bool fillAvx512JitPanels(KernelTable &) { return false; }
JitStats jitStats() { return {}; }
} // namespace mcc::kernels
#endif
