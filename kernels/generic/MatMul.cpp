// The scalar reference of every kernel: the exact dequantization of each
// block (compiler/import/Dequant.cpp) and a plain dot product. This is the
// definition the SIMD versions are tested against.
#include "format/Dequant.h"
#include "format/Half.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include "kernels/Kernels.h"
#include "kernels/RmsNorm.h"

namespace mcc::kernels {

namespace {

template <int BlockBytes, void (*Dequant)(const uint8_t *, float *), int BlockWeights = 32>
void matmulGeneric(const uint8_t *w, const float *x, float *y, int64_t K, int64_t T, int64_t ldy, int64_t r0,
                   int64_t r1) {
  int64_t nb = K / BlockWeights;
  float blk[BlockWeights];
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t t = 0; t < T; ++t) {
      const uint8_t *row = w + r * nb * BlockBytes;
      const float *xt = x + t * K;
      float acc = 0;
      for (int64_t b = 0; b < nb; ++b) {
        Dequant(row + b * BlockBytes, blk);
        for (int j = 0; j < BlockWeights; ++j)
          acc += blk[j] * xt[b * BlockWeights + j];
      }
      y[t * ldy + r] = acc;
    }
}

void blockF16(const uint8_t *b, float *y) {
  for (int j = 0; j < 32; ++j)
    y[j] = fp16ToFloat(loadU16(b + 2 * j));
}
void blockBF16(const uint8_t *b, float *y) {
  for (int j = 0; j < 32; ++j)
    y[j] = bf16ToFloat(loadU16(b + 2 * j));
}
void blockF32(const uint8_t *b, float *y) {
  for (int j = 0; j < 32; ++j)
    y[j] = bitsToFloat(loadU32(b + 4 * j));
}

float dotGeneric(const float *a, const float *b, int64_t n) {
  float acc = 0;
  for (int64_t i = 0; i < n; ++i)
    acc += a[i] * b[i];
  return acc;
}

void swigluGeneric(const float *gate, const float *up, float *out, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

// The definition of attention, one element at a time, over any cache
// layout: key(p, e) and value(p, e) are element e of position p's key and
// value as the cache holds them.
template <class Key, class Value>
void attendReference(const float *q, int64_t G, int64_t n, int64_t hd, float scale, float *scores, float *out,
                     float *lse, Key key, Value value) {
  for (int64_t g = 0; g < G; ++g, q += hd, out += hd, scores += n) {
    float mx = -INFINITY;
    for (int64_t p = 0; p < n; ++p) {
      float s = 0;
      for (int64_t e = 0; e < hd; ++e)
        s += q[e] * key(p, e);
      scores[p] = s * scale;
      mx = std::fmax(mx, scores[p]);
    }
    float sum = 0;
    for (int64_t p = 0; p < n; ++p) {
      scores[p] = std::exp(scores[p] - mx);
      sum += scores[p];
    }
    if (lse)
      lse[g] = mx + std::log(sum);
    for (int64_t e = 0; e < hd; ++e)
      out[e] = 0;
    for (int64_t p = 0; p < n; ++p)
      scores[p] /= sum;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t e = 0; e < hd; ++e)
        out[e] += scores[p] * value(p, e);
  }
}

void attendGeneric(const float *q, int64_t G, const uint16_t *k, int64_t k0, const uint16_t *v, int64_t stride,
                   int64_t n, int64_t hd, float scale, float *scores, float *out, float *lse, const void *,
                   int64_t) {
  auto key = [&](int64_t p, int64_t e) { return fp16ToFloat(k[keyIndex(k0 + p, e, hd)]); };
  auto value = [&](int64_t p, int64_t e) { return fp16ToFloat(v[p * stride + e]); };
  attendReference(q, G, n, hd, scale, scores, out, lse, key, value);
}

// The same over an int8 cache (Kernels.h, KvType): each key and value
// element its int8 times its group's scale.
void attendGenericI8(const float *q, int64_t G, const int8_t *k, int64_t k0, const int8_t *v, int64_t stride,
                     int64_t n, int64_t hd, float scale, float *scores, float *out, float *lse, const void *,
                     int64_t) {
  const int64_t blockBytes = keyBlockBytes(KvType::I8, hd);
  auto key = [&](int64_t p, int64_t e) {
    const int8_t *blk = k + (k0 + p) / kKeyBlock * blockBytes;
    float d;
    std::memcpy(&d, blk + kKeyBlock * hd + 4 * ((e / kKvGroup) * kKeyBlock + (k0 + p) % kKeyBlock), 4);
    return float(blk[keyIndex((k0 + p) % kKeyBlock, e, hd)]) * d;
  };
  auto value = [&](int64_t p, int64_t e) {
    const int8_t *row = v + p * stride;
    float d;
    std::memcpy(&d, row + hd + 4 * (e / kKvGroup), 4);
    return float(row[e]) * d;
  };
  attendReference(q, G, n, hd, scale, scores, out, lse, key, value);
}

} // namespace

void quantizeKv(const float *x, int64_t hd, int8_t *q, int64_t qStride, uint8_t *d, int64_t dStride) {
  for (int64_t g = 0; g * kKvGroup < hd; ++g) {
    const int64_t e0 = g * kKvGroup, e1 = std::min(e0 + kKvGroup, hd);
    float amax = 0;
    for (int64_t e = e0; e < e1; ++e)
      amax = std::fmax(amax, std::fabs(x[e]));
    const float inv = amax > 0 ? 127.0f / amax : 0.0f;
    for (int64_t e = e0; e < e1; ++e)
      q[e * qStride] = int8_t(std::nearbyint(x[e] * inv));
    const float scale = amax / 127.0f;
    std::memcpy(d + 4 * g * dStride, &scale, 4);
  }
}

void rotateKv(float *x, int64_t hd) {
  const float norm = 1.0f / std::sqrt(float(kKvGroup));
  for (int64_t g = 0; g + kKvGroup <= hd; g += kKvGroup) {
    float *y = x + g;
    for (int64_t h = 1; h < kKvGroup; h *= 2)
      for (int64_t i = 0; i < kKvGroup; i += 2 * h)
        for (int64_t j = i; j < i + h; ++j) {
          float a = y[j], b = y[j + h];
          y[j] = a + b;
          y[j + h] = a - b;
        }
    for (int64_t i = 0; i < kKvGroup; ++i)
      y[i] *= norm;
  }
}

void fillGenericInt8(KernelTable &t); // generic/QuantMatMul.cpp (and its panel entries)

namespace {
// RmsNorm.h's traits in plain C++, a float at a time.
struct Scalar {
  using V = float;
  static constexpr int W = 1;
  static V load(const float *p) { return *p; }
  static V mul(V a, V b) { return a * b; }
  static V broadcast(float f) { return f; }
  static void store(float *p, V v) { *p = v; }
  struct D8 {
    double s[8];
  };
  static D8 zero8() { return D8{}; }
  static D8 addSquares(D8 a, const float *x) {
    for (int j = 0; j < 8; ++j)
      a.s[j] += double(x[j]) * x[j];
    return a;
  }
  static void spill(D8 a, double *out) {
    for (int j = 0; j < 8; ++j)
      out[j] = a.s[j];
  }
};
} // namespace

void rmsNormScalar(const float *x, const float *w, float *out, int64_t runs, int64_t n, float eps) {
  RmsNorm<Scalar>::run(x, w, out, runs, n, eps);
}

void toF16Scalar(const float *src, uint16_t *dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    dst[i] = floatToFp16(src[i]);
}

const KernelTable &genericTable() {
  static const KernelTable t = [] {
    KernelTable k{"generic",
                             matmulGeneric<18, dequantBlockQ4_0>,
                             matmulGeneric<20, dequantBlockQ4_1>,
                             matmulGeneric<34, dequantBlockQ8_0>,
                             matmulGeneric<kPK4Bytes, dequantBlockPK4>,
                             matmulGeneric<kPK8Bytes, dequantBlockPK8>,
                             matmulGeneric<64, blockF16>,
                             matmulGeneric<64, blockBF16>,
                             matmulGeneric<128, blockF32>,
                             matmulGeneric<kPK4_128Bytes, dequantBlockPK4_128, 128>,
                             nullptr, nullptr, nullptr, nullptr,
                             nullptr, nullptr, nullptr, nullptr,
                             dotGeneric,
                             attendGeneric,
                             swigluGeneric};
    k.attend_i8 = attendGenericI8;
    fillGenericInt8(k);
    return k;
  }();
  return t;
}

} // namespace mcc::kernels
