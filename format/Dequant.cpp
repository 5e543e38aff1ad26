#include "format/Dequant.h"
#include "format/Error.h"
#include "format/Half.h"
#include "format/Panel.h"

#include <vector>

namespace mcc {

void dequantBlockQ8_0(const uint8_t *b, float *y) {
  float d = fp16ToFloat(loadU16(b));
  const int8_t *q = reinterpret_cast<const int8_t *>(b + 2);
  for (int j = 0; j < 32; ++j)
    y[j] = float(q[j]) * d;
}

void dequantBlockQ4_0(const uint8_t *b, float *y) {
  float d = fp16ToFloat(loadU16(b));
  const uint8_t *qs = b + 2;
  // Low nibbles are elements 0..15, high nibbles 16..31.
  for (int j = 0; j < 16; ++j) {
    y[j] = float(int(qs[j] & 0xF) - 8) * d;
    y[j + 16] = float(int(qs[j] >> 4) - 8) * d;
  }
}

void dequantBlockQ4_1(const uint8_t *b, float *y) {
  float d = fp16ToFloat(loadU16(b));
  float m = fp16ToFloat(loadU16(b + 2));
  const uint8_t *qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = float(qs[j] & 0xF) * d + m;
    y[j + 16] = float(qs[j] >> 4) * d + m;
  }
}

// K-quants pack eight 6-bit (scale, min) pairs into 12 bytes: pairs 0..3 in
// the low 6 bits of bytes 0..7, pairs 4..7 split between bytes 8..11 (low and
// high nibble) and the top 2 bits of bytes 0..7.
static void scaleMinK4(int j, const uint8_t *s, uint8_t &sc, uint8_t &m) {
  if (j < 4) {
    sc = s[j] & 63;
    m = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

void unpackQ4_K(const uint8_t *b, float d[8], float m[8], uint8_t q[256]) {
  float d0 = fp16ToFloat(loadU16(b));
  float dmin = fp16ToFloat(loadU16(b + 2));
  const uint8_t *scales = b + 4, *qs = b + 16;
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, mn;
    scaleMinK4(j, scales, sc, mn);
    d[j] = d0 * sc;
    m[j] = dmin * mn;
  }
  // Each 32 bytes hold two sub-blocks: low nibbles, then high nibbles.
  for (int j = 0; j < 8; j += 2, qs += 32)
    for (int l = 0; l < 32; ++l) {
      q[32 * j + l] = qs[l] & 0xF;
      q[32 * j + 32 + l] = qs[l] >> 4;
    }
}

void dequantBlockQ4_K(const uint8_t *b, float *y) {
  float d[8], m[8];
  uint8_t q[256];
  unpackQ4_K(b, d, m, q);
  for (int i = 0; i < 256; ++i)
    y[i] = d[i / 32] * float(q[i]) - m[i / 32];
}

void dequantBlockQ5_K(const uint8_t *b, float *y) {
  float d = fp16ToFloat(loadU16(b));
  float dmin = fp16ToFloat(loadU16(b + 2));
  const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0; j < 8; j += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
    uint8_t sc, m;
    scaleMinK4(j, scales, sc, m);
    float d1 = d * sc, m1 = dmin * m;
    scaleMinK4(j + 1, scales, sc, m);
    float d2 = d * sc, m2 = dmin * m;
    for (int l = 0; l < 32; ++l)
      *y++ = d1 * float((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
    for (int l = 0; l < 32; ++l)
      *y++ = d2 * float((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
  }
}

void dequantBlockQ6_K(const uint8_t *b, float *y) {
  const uint8_t *ql = b, *qh = b + 128;
  const int8_t *sc = reinterpret_cast<const int8_t *>(b + 192);
  float d = fp16ToFloat(loadU16(b + 208));
  for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8, y += 128) {
    for (int l = 0; l < 32; ++l) {
      int is = l / 16;
      int q1 = int((ql[l] & 0xF) | ((qh[l] >> 0 & 3) << 4)) - 32;
      int q2 = int((ql[l + 32] & 0xF) | ((qh[l] >> 2 & 3) << 4)) - 32;
      int q3 = int((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
      int q4 = int((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
      y[l] = d * float(sc[is]) * float(q1);
      y[l + 32] = d * float(sc[is + 2]) * float(q2);
      y[l + 64] = d * float(sc[is + 4]) * float(q3);
      y[l + 96] = d * float(sc[is + 6]) * float(q4);
    }
  }
}

void dequantBlockPK4(const uint8_t *b, float *y) {
  float d = bitsToFloat(loadU32(b)), m = bitsToFloat(loadU32(b + 4));
  const uint8_t *qs = b + 8;
  for (int j = 0; j < 16; ++j) {
    y[j] = float(qs[j] & 0xF) * d + m;
    y[j + 16] = float(qs[j] >> 4) * d + m;
  }
}

void dequantBlockPK4_128(const uint8_t *b, float *y) {
  float d = bitsToFloat(loadU32(b)), m = bitsToFloat(loadU32(b + 4));
  for (int s = 0; s < 4; ++s) {
    const uint8_t *qs = b + 8 + 16 * s;
    for (int j = 0; j < 16; ++j) {
      y[32 * s + j] = float(qs[j] & 0xF) * d + m;
      y[32 * s + j + 16] = float(qs[j] >> 4) * d + m;
    }
  }
}

void dequantBlockPK8(const uint8_t *b, float *y) {
  float d = bitsToFloat(loadU32(b)), m = bitsToFloat(loadU32(b + 4));
  for (int j = 0; j < 32; ++j)
    y[j] = float(b[8 + j]) * d + m;
}

static float loadScale(const TensorView &t, int64_t i) {
  const uint8_t *p = t.data + i * int64_t(dtypeSize(t.dtype));
  switch (t.dtype) {
  case DType::F16: return fp16ToFloat(loadU16(p));
  case DType::BF16: return bf16ToFloat(loadU16(p));
  case DType::F32: return bitsToFloat(loadU32(p));
  default: return 0.0f; // the importer admits only float scales
  }
}

// Zero point of output column c in group g, from int32 words packed along the
// output dimension. AWQ stores column order_map[k] in nibble k. `addend` is
// added to the whole word (with carry between fields) before the field is
// read: GPTQ v1's offset.
static int packedColumn(const TensorView &t, int64_t g, int64_t c, int bits, bool awqOrder, uint32_t addend = 0) {
  int pack = 32 / bits;
  int64_t wordsPerRow = t.shape[1];
  uint32_t w = loadU32(t.data + 4 * (g * wordsPerRow + c / pack)) + addend;
  int slot = int(c % pack);
  if (awqOrder) {
    static const int inv[8] = {0, 4, 1, 5, 2, 6, 3, 7}; // inverse of {0,2,4,6,1,3,5,7}
    slot = inv[slot];
  }
  return int(w >> (slot * bits) & ((1u << bits) - 1));
}

// The stored tensors are [in, out] (transposed): logical row c of the weight
// is output column c, and its element r is input row r.
void integerRow(const Weight &w, int64_t c, IntegerElement *out) {
  const Quantization &q = w.quant;
  int bits = q.bits, pack = 32 / bits;
  uint32_t mask = (1u << bits) - 1;
  int64_t K = w.cols(), N = w.rows();
  bool awq = q.format == WeightFormat::AWQ;
  uint32_t ones = bits == 4 ? 0x11111111u : 0x01010101u;
  for (int64_t r = 0; r < K; ++r) {
    int64_t g = w.g_idx ? int64_t(loadU32(w.g_idx->data + 4 * r)) : (q.group_size > 0 ? r / q.group_size : 0);
    int qv;
    if (awq) {
      // qweight is [K, N / 8]: columns packed along the output dimension.
      qv = packedColumn(w.data, r, c, bits, true);
    } else {
      // qweight is [K / pack, N]: rows packed along the input dimension.
      uint32_t word = loadU32(w.data.data + 4 * ((r / pack) * N + c));
      qv = int(word >> ((r % pack) * bits) & mask);
    }
    int z = q.zero_code == ZeroCode::V1Word ? packedColumn(*w.zeros, g, c, bits, awq, ones)
            : q.zero_code == ZeroCode::V1Field ? (packedColumn(*w.zeros, g, c, bits, awq) + 1) & int(mask)
                                               : packedColumn(*w.zeros, g, c, bits, awq);
    out[r] = {qv, z, g, loadScale(*w.scales, g * N + c)};
  }
}

static void dequantIntegerRow(const Weight &w, int64_t c, float *out) {
  thread_local std::vector<IntegerElement> e;
  e.resize(size_t(w.cols()));
  integerRow(w, c, e.data());
  for (size_t r = 0; r < e.size(); ++r)
    out[r] = e[r].s * float(e[r].q - e[r].z);
}

void dequantizeRow(const Weight &w, int64_t row, float *out) {
  int64_t K = w.cols();
  const uint8_t *p = w.data.data;
  auto blocks = [&](int block, int bytes, void (*f)(const uint8_t *, float *)) {
    if (w.quant.panels) {
      uint8_t one[kPK4_128Bytes]; // the largest panel block
      for (int64_t i = 0; i < K / block; ++i) {
        gatherBlock(w.quant.format, p, K, row, i, one);
        f(one, out + i * block);
      }
      return;
    }
    const uint8_t *r = p + row * (K / block) * bytes;
    for (int64_t i = 0; i < K / block; ++i)
      f(r + i * bytes, out + i * block);
  };
  switch (w.quant.format) {
  case WeightFormat::F32:
    for (int64_t i = 0; i < K; ++i)
      out[i] = bitsToFloat(loadU32(p + 4 * (row * K + i)));
    return;
  case WeightFormat::F16:
    for (int64_t i = 0; i < K; ++i)
      out[i] = fp16ToFloat(loadU16(p + 2 * (row * K + i)));
    return;
  case WeightFormat::BF16:
    for (int64_t i = 0; i < K; ++i)
      out[i] = bf16ToFloat(loadU16(p + 2 * (row * K + i)));
    return;
  case WeightFormat::Q8_0: return blocks(32, 34, dequantBlockQ8_0);
  case WeightFormat::Q4_0: return blocks(32, 18, dequantBlockQ4_0);
  case WeightFormat::Q4_1: return blocks(32, 20, dequantBlockQ4_1);
  case WeightFormat::Q4_K: return blocks(256, 144, dequantBlockQ4_K);
  case WeightFormat::Q5_K: return blocks(256, 176, dequantBlockQ5_K);
  case WeightFormat::Q6_K: return blocks(256, 210, dequantBlockQ6_K);
  case WeightFormat::GPTQ:
  case WeightFormat::AWQ: return dequantIntegerRow(w, row, out);
  case WeightFormat::PK4:
  case WeightFormat::PK8:
  case WeightFormat::PK4_128: {
    auto stored_blocks = [&] {
      switch (w.quant.format) {
      case WeightFormat::PK4: return blocks(32, kPK4Bytes, dequantBlockPK4);
      case WeightFormat::PK8: return blocks(32, kPK8Bytes, dequantBlockPK8);
      default: return blocks(128, kPK4_128Bytes, dequantBlockPK4_128);
      }
    };
    if (!w.perm)
      return stored_blocks();
    // Stored in act-order: dequantize, then put each column back in place.
    thread_local std::vector<float> stored;
    stored.resize(size_t(K));
    float *dst = out;
    out = stored.data();
    stored_blocks();
    for (int64_t j = 0; j < K; ++j)
      dst[loadU32(w.perm->data + 4 * j)] = stored[size_t(j)];
    return;
  }
  }
}

} // namespace mcc
