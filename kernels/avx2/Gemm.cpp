// Integer products on AVX2: int8 activations (QuantizedActs.h) times 4-bit
// weights through vpmaddubsw (u8 weights x s8 activations, pairs summed to
// i16) and vpmaddwd (pairs of i16 summed to i32). This file alone is
// compiled with AVX2/FMA/F16C; the dispatcher calls it only on CPUs that
// have them. A pair sum is at most 2 * 15 * 127 = 3810: vpmaddubsw never
// saturates on these operands.
//
// The weights stay in their stored layout: one block's 16 nibble bytes
// expand to one vector of 32 u8 weights in natural order (low nibbles then
// high), the order the activations are stored in, so vpmaddwd's eight i32
// lanes are four per half block, and each half's activation scale is a lane
// of one scale vector. Tiles of rows x tokens keep every weight vector in a
// register for all the tokens of the tile and every activation load for all
// the rows.
#include "kernels/Kernels.h"

#if defined(__x86_64__)
#include "kernels/QuantizedActs.h"

#include <immintrin.h>
#include <vector>

namespace mcc::kernels {

namespace {

// One block of 32 activations of one token, as the tiles read it.
struct alignas(32) ActVec {
  int8_t q[32];
  int8_t r[32];  // the rounding carried by the second pass (decoding)
  float dx[8];   // the two half scales, each four times: lanes match vpmaddwd's
  float sum[8];  // the quantized sum / 8 in every lane: 8 lanes add up to it
};

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// 16 int32 (two vectors) -> 16 int8, in order.
inline __m128i narrow(__m256i a, __m256i b) {
  __m256i w = _mm256_packs_epi32(a, b);                      // a0-3 b0-3 a4-7 b4-7 (i16)
  w = _mm256_permute4x64_epi64(w, 0xD8);                     // a0-7 b0-7
  __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
  return _mm_packs_epi16(lo, hi);
}

// quantizeActBlock, bit for bit, for every block of T tokens.
template <bool Residual> void quantize(const float *x, int64_t K, int64_t T, ActVec *out) {
  int64_t ns = K / 32;
  const __m256 sign = _mm256_set1_ps(-0.0f), res = _mm256_set1_ps(254.0f);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t s = 0; s < ns; ++s) {
      const float *p = x + t * K + s * 32;
      ActVec &a = out[t * ns + s];
      float sum = 0;
      for (int h = 0; h < 2; ++h) {
        __m256 v0 = _mm256_loadu_ps(p + 16 * h), v1 = _mm256_loadu_ps(p + 16 * h + 8);
        float amax = hmax(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)));
        float d = amax / 127.0f, inv = amax > 0 ? 127.0f / amax : 0.0f;
        __m256 s8 = _mm256_set1_ps(inv);
        v0 = _mm256_mul_ps(v0, s8);
        v1 = _mm256_mul_ps(v1, s8);
        __m256 q0 = _mm256_round_ps(v0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 q1 = _mm256_round_ps(v1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256i i0 = _mm256_cvtps_epi32(q0), i1 = _mm256_cvtps_epi32(q1);
        _mm_store_si128(reinterpret_cast<__m128i *>(a.q + 16 * h), narrow(i0, i1));
        float part = float(hsum(_mm256_add_epi32(i0, i1)));
        if constexpr (Residual) {
          __m256i r0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_sub_ps(v0, q0), res));
          __m256i r1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_sub_ps(v1, q1), res));
          _mm_store_si128(reinterpret_cast<__m128i *>(a.r + 16 * h), narrow(r0, r1));
          part += float(hsum(_mm256_add_epi32(r0, r1))) * kResidualScale;
        }
        for (int l = 0; l < 4; ++l)
          a.dx[4 * h + l] = d;
        sum += d * part;
      }
      for (float &v : a.sum)
        v = sum * 0.125f;
    }
}

// One row's 32 weights of one sub-block, and its scale and offset.
template <WeightFormat F> struct Row {
  using L = IntLayout<F>;
  static void scales(const uint8_t *b, float &d, float &m) {
    if constexpr (F == WeightFormat::Q4_0 || F == WeightFormat::Q4_1) {
      d = _cvtsh_ss(loadU16(b));
      m = F == WeightFormat::Q4_0 ? -8.0f * d : _cvtsh_ss(loadU16(b + 2));
    } else {
      L::scales(b, d, m);
    }
  }
  static __m256i weights(const uint8_t *nibbles) {
    __m128i n = _mm_loadu_si128(reinterpret_cast<const __m128i *>(nibbles));
    const __m128i low = _mm_set1_epi8(0x0F);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(n, 4), low), _mm_and_si128(n, low));
  }
};

// R rows x TT tokens: y[t * ldy + i] for the tile's rows and tokens. a: the
// first token's activation blocks (ns per token).
template <WeightFormat F, bool Residual, int R, int TT>
void tile(const uint8_t *w, int64_t rowBytes, const ActVec *a, int64_t ns, float *y, int64_t ldy) {
  using L = IntLayout<F>;
  constexpr int subs = L::kWeights / 32;
  __m256 acc[R][TT];
  for (int i = 0; i < R; ++i)
    for (int t = 0; t < TT; ++t)
      acc[i][t] = _mm256_setzero_ps();
  const __m256i ones = _mm256_set1_epi16(1), res = _mm256_set1_epi16(254);
  const __m256 rscale = _mm256_set1_ps(Residual ? kResidualScale : 1.0f);
  for (int64_t kb = 0; kb < ns; ++kb) {
    int64_t b = kb / subs, sub = kb % subs;
    __m256i wv[R];
    __m256 d[R], m[R];
    for (int i = 0; i < R; ++i) {
      const uint8_t *blk = w + i * rowBytes + b * L::kBytes;
      wv[i] = Row<F>::weights(blk + L::kHeader + 16 * sub);
      float ds, ms;
      Row<F>::scales(blk, ds, ms);
      d[i] = _mm256_set1_ps(ds);
      m[i] = _mm256_set1_ps(ms);
    }
    for (int t = 0; t < TT; ++t) {
      const ActVec &x = a[t * ns + kb];
      __m256i xq = _mm256_load_si256(reinterpret_cast<const __m256i *>(x.q));
      __m256 dx = _mm256_mul_ps(_mm256_load_ps(x.dx), rscale), sum = _mm256_load_ps(x.sum);
      for (int i = 0; i < R; ++i) {
        __m256i p;
        if constexpr (Residual) {
          // 254 * sum(q * xq) + sum(q * xr), exact in i32, then / 254.
          __m256i xr = _mm256_load_si256(reinterpret_cast<const __m256i *>(x.r));
          p = _mm256_add_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(wv[i], xq), res),
                               _mm256_madd_epi16(_mm256_maddubs_epi16(wv[i], xr), ones));
        } else {
          p = _mm256_madd_epi16(_mm256_maddubs_epi16(wv[i], xq), ones);
        }
        acc[i][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_mul_ps(d[i], dx), acc[i][t]);
        acc[i][t] = _mm256_fmadd_ps(m[i], sum, acc[i][t]);
      }
    }
  }
  for (int i = 0; i < R; ++i)
    for (int t = 0; t < TT; ++t) {
      __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc[i][t]), _mm256_extractf128_ps(acc[i][t], 1));
      s = _mm_add_ps(s, _mm_movehl_ps(s, s));
      s = _mm_add_ss(s, _mm_movehdup_ps(s));
      y[t * ldy + i] = _mm_cvtss_f32(s);
    }
}

// Tiles by (rows, tokens), 1..4 each: the full tiles and every remainder.
constexpr int kMaxTile = 4;
template <WeightFormat F, bool Residual>
using TileFn = void (*)(const uint8_t *, int64_t, const ActVec *, int64_t, float *, int64_t);
template <WeightFormat F, bool Residual, int R>
constexpr TileFn<F, Residual> kRow[kMaxTile] = {tile<F, Residual, R, 1>, tile<F, Residual, R, 2>,
                                                tile<F, Residual, R, 3>, tile<F, Residual, R, 4>};
template <WeightFormat F, bool Residual>
constexpr const TileFn<F, Residual> *kTiles[kMaxTile] = {kRow<F, Residual, 1>, kRow<F, Residual, 2>,
                                                         kRow<F, Residual, 3>, kRow<F, Residual, 4>};

struct Avx2Int {
  template <WeightFormat F, bool Residual>
  static void run(const uint8_t *w, const float *x, float *y, int64_t K, int64_t T, int64_t ldy, int64_t r0,
                  int64_t r1) {
    using L = IntLayout<F>;
    int64_t ns = K / 32, rowBytes = (K / L::kWeights) * L::kBytes;
    thread_local std::vector<ActVec> acts;
    acts.resize(size_t(T * ns));
    quantize<Residual>(x, K, T, acts.data());
    // One token: four rows at a time (four chains in flight); more tokens:
    // two rows by up to four tokens (eight accumulators, two weight vectors).
    int rowTile = T == 1 ? 4 : 2, tokTile = kMaxTile;
    for (int64_t r = r0; r < r1; r += rowTile) {
      int rows = int(std::min<int64_t>(rowTile, r1 - r));
      for (int64_t t = 0; t < T; t += tokTile) {
        int toks = int(std::min<int64_t>(tokTile, T - t));
        kTiles<F, Residual>[rows - 1][toks - 1](w + r * rowBytes, rowBytes, acts.data() + t * ns, ns,
                                                y + t * ldy + r, ldy);
      }
    }
  }
};

} // namespace

// The integer entries of the AVX2 table.
void fillAvx2Int8(KernelTable &t) { fillInt8<Avx2Int>(t); }

} // namespace mcc::kernels

#else
namespace mcc::kernels {
void fillAvx2Int8(KernelTable &) {}
} // namespace mcc::kernels
#endif
