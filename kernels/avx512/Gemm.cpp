// Prompt processing on AVX-512 VNNI: int8 activations (QuantizedActs.h)
// times 4-bit weights through vpdpbusd. This file alone is compiled with
// AVX-512 F/BW/VL + VNNI; the dispatcher calls it only on CPUs that have them.
//
// The weights stay in their stored layout (row-major blocks, shared with the
// decode kernels). For each panel of 16 rows the kernel first transposes
// the panel into "lanes are rows" order: for every block of 32 weights,
// eight 64-byte vectors, vector c holding weights 4c..4c+3 of each of the
// 16 rows. One vpdpbusd then adds 64 products into 16 per-row sums, and
// the float work per block (scale, offset) is one vector op per 16 rows
// instead of one per row. The panel (K/32 x 640 bytes) stays in L2 while
// every token of the batch runs over it, 8 tokens at a time in registers.
#include "kernels/Kernels.h"

#if defined(__x86_64__)
#include "kernels/QuantizedActs.h"
#include "kernels/avx512/QuantizeActs.h"

#include <immintrin.h>
#include <vector>

namespace mcc::kernels {

namespace {

constexpr int kPanelRows = 16;
constexpr int kTokenTile = 8;

// The 16 nibble bytes of 16 rows (rows past `rows` read as zeros) ->
// N[c4], lane i = dword c4 of row i's nibble bytes.
inline void transposeNibbles(const uint8_t *const *src, __m512i N[4]) {
  __m512i Z[4];
  for (int g = 0; g < 4; ++g) {
    __m512i z = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i *>(src[4 * g])));
    z = _mm512_inserti32x4(z, _mm_loadu_si128(reinterpret_cast<const __m128i *>(src[4 * g + 1])), 1);
    z = _mm512_inserti32x4(z, _mm_loadu_si128(reinterpret_cast<const __m128i *>(src[4 * g + 2])), 2);
    Z[g] = _mm512_inserti32x4(z, _mm_loadu_si128(reinterpret_cast<const __m128i *>(src[4 * g + 3])), 3);
  }
  // Round 1: rows 0-7 (Z0, Z1) and rows 8-15 (Z2, Z3), dwords {0,1} and {2,3}:
  // lane k < 8 is row k's dword c, lane 8 + k is its dword c + 1.
  alignas(64) int32_t lo[16], hi[16];
  for (int k = 0; k < 8; ++k) {
    int from = (k < 4 ? 0 : 16) + (k % 4) * 4;
    lo[k] = from + 0, lo[8 + k] = from + 1;
    hi[k] = from + 2, hi[8 + k] = from + 3;
  }
  __m512i il = _mm512_load_si512(lo), ih = _mm512_load_si512(hi);
  __m512i A01 = _mm512_permutex2var_epi32(Z[0], il, Z[1]), B01 = _mm512_permutex2var_epi32(Z[0], ih, Z[1]);
  __m512i A23 = _mm512_permutex2var_epi32(Z[2], il, Z[3]), B23 = _mm512_permutex2var_epi32(Z[2], ih, Z[3]);
  // Round 2: the low halves of both (dword c) and the high halves (c + 1).
  const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
  const __m512i second = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  N[0] = _mm512_permutex2var_epi32(A01, first, A23);
  N[1] = _mm512_permutex2var_epi32(A01, second, A23);
  N[2] = _mm512_permutex2var_epi32(B01, first, B23);
  N[3] = _mm512_permutex2var_epi32(B01, second, B23);
}

// One panel of up to 16 rows: for every block of 32 weights, eight vectors
// of u8 weights (lanes are rows) and the rows' scales and offsets.
template <WeightFormat F> struct Panel {
  using L = IntLayout<F>;
  static constexpr int subs = L::kWeights / 32;

  // The 16 rows' scales and offsets of one block (blk: row 0's), gathered;
  // rows past `rows` get zeros.
  static void gatherScales(const uint8_t *blk, int64_t rowBytes, int rows, float *dv, float *mv) {
    __mmask16 live = __mmask16((1u << rows) - 1);
    __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                     _mm512_set1_epi32(int32_t(rowBytes)));
    __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, idx, blk, 1);
    __m512 d, m;
    if constexpr (F == WeightFormat::Q4_0 || F == WeightFormat::Q4_1) {
      d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(g));
      m = F == WeightFormat::Q4_0 ? _mm512_mul_ps(d, _mm512_set1_ps(-8.0f))
                                  : _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(g, 16)));
    } else {
      d = _mm512_castsi512_ps(g);
      m = _mm512_castsi512_ps(_mm512_mask_i32gather_epi32(_mm512_setzero_si512(), live, idx, blk + 4, 1));
    }
    _mm512_storeu_ps(dv, d);
    _mm512_storeu_ps(mv, m);
  }

  // w at row 0 of the panel; out: ns * 8 vectors, then ns * 16 d, ns * 16 m.
  static void unpack(const uint8_t *w, int64_t rowBytes, int rows, int64_t nb, __m512i *out, float *dv, float *mv) {
    // Rows past `rows` read a block of zeros.
    static const uint8_t zeros[L::kBytes] = {};
    const __m512i low = _mm512_set1_epi8(0x0F);
    for (int64_t b = 0; b < nb; ++b) {
      for (int s = 0; s < subs; ++s) {
        int64_t kb = b * subs + s;
        const uint8_t *src[kPanelRows];
        for (int i = 0; i < kPanelRows; ++i)
          src[i] = (i < rows ? w + i * rowBytes + b * L::kBytes : zeros) + L::kHeader + 16 * s;
        __m512i N[4];
        transposeNibbles(src, N);
        __m512i *o = out + kb * 8;
        for (int c = 0; c < 4; ++c) {
          o[c] = _mm512_and_si512(N[c], low);
          o[c + 4] = _mm512_and_si512(_mm512_srli_epi16(N[c], 4), low);
        }
        if (s == 0)
          gatherScales(w + b * L::kBytes, rowBytes, rows, dv + kb * 16, mv + kb * 16);
        else
          for (int i = 0; i < 16; ++i)
            dv[kb * 16 + i] = dv[(kb - s) * 16 + i], mv[kb * 16 + i] = mv[(kb - s) * 16 + i];
      }
    }
  }
};

// TT tokens over one unpacked panel: y[t * ldy + i] for i < rows.
template <int TT, bool Residual>
void tokens(const __m512i *pw, const float *dv, const float *mv, int64_t ns, const int8_t *xq, const int8_t *xr,
            const float *dx, const float *sx, int64_t K, float *y, int64_t ldy, __mmask16 rows) {
  __m512 facc[TT];
  for (int t = 0; t < TT; ++t)
    facc[t] = _mm512_setzero_ps();
  for (int64_t kb = 0; kb < ns; ++kb) {
    // Two integer sums per token, one per half block: each half has its
    // own activation scale.
    __m512i lo[TT], hi[TT], rlo[TT], rhi[TT];
    for (int t = 0; t < TT; ++t)
      lo[t] = hi[t] = rlo[t] = rhi[t] = _mm512_setzero_si512();
    const __m512i *w = pw + kb * 8;
    for (int c = 0; c < 8; ++c) {
      __m512i wv = _mm512_load_si512(w + c);
      for (int t = 0; t < TT; ++t) {
        int32_t four;
        __builtin_memcpy(&four, xq + t * K + kb * 32 + 4 * c, 4);
        __m512i &acc = c < 4 ? lo[t] : hi[t];
        acc = _mm512_dpbusd_epi32(acc, wv, _mm512_set1_epi32(four));
        if constexpr (Residual) {
          __builtin_memcpy(&four, xr + t * K + kb * 32 + 4 * c, 4);
          __m512i &racc = c < 4 ? rlo[t] : rhi[t];
          racc = _mm512_dpbusd_epi32(racc, wv, _mm512_set1_epi32(four));
        }
      }
    }
    __m512 d = _mm512_loadu_ps(dv + kb * 16), m = _mm512_loadu_ps(mv + kb * 16);
    const __m512 rs = _mm512_set1_ps(kResidualScale);
    for (int t = 0; t < TT; ++t) {
      const float *dxt = dx + (t * ns + kb) * 2;
      __m512 l = _mm512_cvtepi32_ps(lo[t]), h = _mm512_cvtepi32_ps(hi[t]);
      if constexpr (Residual) {
        l = _mm512_fmadd_ps(_mm512_cvtepi32_ps(rlo[t]), rs, l);
        h = _mm512_fmadd_ps(_mm512_cvtepi32_ps(rhi[t]), rs, h);
      }
      facc[t] = _mm512_fmadd_ps(l, _mm512_mul_ps(d, _mm512_set1_ps(dxt[0])), facc[t]);
      facc[t] = _mm512_fmadd_ps(h, _mm512_mul_ps(d, _mm512_set1_ps(dxt[1])), facc[t]);
      facc[t] = _mm512_fmadd_ps(m, _mm512_set1_ps(sx[t * ns + kb]), facc[t]);
    }
  }
  for (int t = 0; t < TT; ++t)
    _mm512_mask_storeu_ps(y + t * ldy, rows, facc[t]);
}

// tokens<TT> for TT = 1..kTokenTile, the remainder of a batch included.
template <bool Residual>
constexpr decltype(&tokens<1, Residual>) kTiles[kTokenTile] = {
    tokens<1, Residual>, tokens<2, Residual>, tokens<3, Residual>, tokens<4, Residual>,
    tokens<5, Residual>, tokens<6, Residual>, tokens<7, Residual>, tokens<8, Residual>};

struct Scratch {
  std::vector<int8_t> xq, xr;
  std::vector<float> dx, sx, dv, mv;
  std::vector<__m512i> panel;
};

struct Vnni {
  template <WeightFormat F, bool Residual>
  static void run(const uint8_t *w, const float *x, float *y, int64_t K, int64_t T, int64_t ldy, int64_t r0,
                  int64_t r1) {
    using L = IntLayout<F>;
    int64_t nb = K / L::kWeights, ns = K / 32, rowBytes = nb * L::kBytes;
    thread_local Scratch s;
    s.xq.resize(size_t(T * K));
    s.xr.resize(Residual ? size_t(T * K) : 0);
    s.dx.resize(size_t(T * ns * 2));
    s.sx.resize(size_t(T * ns));
    s.dv.resize(size_t(ns * 16));
    s.mv.resize(size_t(ns * 16));
    s.panel.resize(size_t(ns * 8));
    avx512::quantize<Residual>(x, K, T, s.xq.data(), s.xr.data(), s.dx.data(), s.sx.data());
    for (int64_t r = r0; r < r1; r += kPanelRows) {
      int rows = int(std::min<int64_t>(kPanelRows, r1 - r));
      Panel<F>::unpack(w + r * rowBytes, rowBytes, rows, nb, s.panel.data(), s.dv.data(), s.mv.data());
      __mmask16 mask = __mmask16((1u << rows) - 1);
      for (int64_t t = 0; t < T; t += kTokenTile) {
        const int8_t *xq = s.xq.data() + t * K, *xr = Residual ? s.xr.data() + t * K : nullptr;
        const float *dx = s.dx.data() + t * ns * 2, *sx = s.sx.data() + t * ns;
        float *yt = y + t * ldy + r;
        const __m512i *pw = s.panel.data();
        kTiles<Residual>[std::min<int64_t>(kTokenTile, T - t) - 1](pw, s.dv.data(), s.mv.data(), ns, xq, xr, dx, sx, K,
                                                                 yt, ldy, mask);
      }
    }
  }
};

} // namespace

// Fills the prompt entries of an AVX-512 table when this CPU has VNNI.
// Decoding stays on the f32 kernels: one token cannot pay for a panel's
// transposition, and measured on an AMD EPYC (36-50 GB/s) the two-pass
// integer decode ran at 91 tok/s on SmolLM2-135M and 34 on a 0.5B where the
// f32 kernels ran 147 and 62 (2 threads), with f32 activations besides.
void fillAvx512Vnni(KernelTable &t) {
  if (!__builtin_cpu_supports("avx512vnni"))
    return;
  fillInt8<Vnni>(t, /*decode=*/false);
  t.quantize_acts = [](const float *x, int64_t K, int64_t T, bool residual, int8_t *xq, int8_t *xr, float *dx,
                       float *sx) {
    if (residual)
      avx512::quantize<true>(x, K, T, xq, xr, dx, sx);
    else
      avx512::quantize<false>(x, K, T, xq, xr, dx, sx);
  };
}

} // namespace mcc::kernels

#else
namespace mcc::kernels {
void fillAvx512Vnni(KernelTable &) {}
} // namespace mcc::kernels
#endif
