// The scalar reference of every kernel: plain C++, the definition the SIMD
// versions are tested against.
#include "compiler/import/Half.h"
#include "kernels/Kernels.h"

#include <cmath>

namespace mcc::kernels {

static void quantizeGeneric(const float *x, QBlock8 *out, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b, x += 32) {
    float amax = 0;
    for (int i = 0; i < 32; ++i)
      amax = std::fmax(amax, std::fabs(x[i]));
    float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int i = 0; i < 32; ++i) {
      int q = int(std::nearbyint(x[i] * id));
      out[b].q[i] = int8_t(q);
      sum += q;
    }
    out[b].d = d;
    out[b].dsum = d * float(sum);
  }
}

static float dotQ4_0Generic(const uint8_t *w, const QBlock8 *x, int64_t nb) {
  float acc = 0;
  for (int64_t b = 0; b < nb; ++b, w += 18) {
    const uint8_t *qs = w + 2;
    int s = 0;
    for (int j = 0; j < 16; ++j)
      s += (int(qs[j] & 0xF) - 8) * x[b].q[j] + (int(qs[j] >> 4) - 8) * x[b].q[j + 16];
    acc += fp16ToFloat(loadU16(w)) * x[b].d * float(s);
  }
  return acc;
}

static float dotQ4_1Generic(const uint8_t *w, const QBlock8 *x, int64_t nb) {
  float acc = 0;
  for (int64_t b = 0; b < nb; ++b, w += 20) {
    const uint8_t *qs = w + 4;
    int s = 0;
    for (int j = 0; j < 16; ++j)
      s += int(qs[j] & 0xF) * x[b].q[j] + int(qs[j] >> 4) * x[b].q[j + 16];
    acc += fp16ToFloat(loadU16(w)) * x[b].d * float(s) + fp16ToFloat(loadU16(w + 2)) * x[b].dsum;
  }
  return acc;
}

static float dotQ8_0Generic(const uint8_t *w, const QBlock8 *x, int64_t nb) {
  float acc = 0;
  for (int64_t b = 0; b < nb; ++b, w += 34) {
    const int8_t *qs = reinterpret_cast<const int8_t *>(w + 2);
    int s = 0;
    for (int j = 0; j < 32; ++j)
      s += qs[j] * x[b].q[j];
    acc += fp16ToFloat(loadU16(w)) * x[b].d * float(s);
  }
  return acc;
}

static float dotF32Generic(const float *a, const float *b, int64_t n) {
  float acc = 0;
  for (int64_t i = 0; i < n; ++i)
    acc += a[i] * b[i];
  return acc;
}

// f32 activations: sum(d * q * x) = d * sum(q * x); offsets use the block sums.
static float dotQ4_0FGeneric(const uint8_t *w, const float *x, const float *xsum, int64_t nb) {
  float acc = 0;
  for (int64_t b = 0; b < nb; ++b, w += 18, x += 32) {
    const uint8_t *qs = w + 2;
    float s = 0;
    for (int j = 0; j < 16; ++j)
      s += float(qs[j] & 0xF) * x[j] + float(qs[j] >> 4) * x[j + 16];
    acc += fp16ToFloat(loadU16(w)) * (s - 8.0f * xsum[b]);
  }
  return acc;
}

static float dotQ4_1FGeneric(const uint8_t *w, const float *x, const float *xsum, int64_t nb) {
  float acc = 0;
  for (int64_t b = 0; b < nb; ++b, w += 20, x += 32) {
    const uint8_t *qs = w + 4;
    float s = 0;
    for (int j = 0; j < 16; ++j)
      s += float(qs[j] & 0xF) * x[j] + float(qs[j] >> 4) * x[j + 16];
    acc += fp16ToFloat(loadU16(w)) * s + fp16ToFloat(loadU16(w + 2)) * xsum[b];
  }
  return acc;
}

static float dotQ8_0FGeneric(const uint8_t *w, const float *x, int64_t nb) {
  float acc = 0;
  for (int64_t b = 0; b < nb; ++b, w += 34, x += 32) {
    const int8_t *qs = reinterpret_cast<const int8_t *>(w + 2);
    float s = 0;
    for (int j = 0; j < 32; ++j)
      s += float(qs[j]) * x[j];
    acc += fp16ToFloat(loadU16(w)) * s;
  }
  return acc;
}

const DotTable &genericTable() {
  static const DotTable t{"generic",        quantizeGeneric, dotQ4_0Generic,  dotQ4_1Generic, dotQ8_0Generic,
                          dotF32Generic,    dotQ4_0FGeneric, dotQ4_1FGeneric, dotQ8_0FGeneric};
  return t;
}

} // namespace mcc::kernels
