// Hand-built blocks with known values: the formulas, independent of fixtures.
#include "format/Dequant.h"

#include <cstring>
#include <gtest/gtest.h>
#include <vector>

using namespace mcc;

static void putF16(uint8_t *p, uint16_t h) { std::memcpy(p, &h, 2); }

TEST(Dequant, Q4_0LowNibblesFirst) {
  uint8_t b[18] = {};
  putF16(b, 0x4000); // d = 2
  for (int j = 0; j < 16; ++j)
    b[2 + j] = uint8_t(j | (15 - j) << 4);
  float y[32];
  dequantBlockQ4_0(b, y);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], float(j - 8) * 2);
    EXPECT_EQ(y[j + 16], float(15 - j - 8) * 2);
  }
}

TEST(Dequant, Q4_1ScaleAndMin) {
  uint8_t b[20] = {};
  putF16(b, 0x3800);     // d = 0.5
  putF16(b + 2, 0xBC00); // m = -1
  b[4] = 0xF3;
  float y[32];
  dequantBlockQ4_1(b, y);
  EXPECT_EQ(y[0], 3 * 0.5f - 1);
  EXPECT_EQ(y[16], 15 * 0.5f - 1);
  EXPECT_EQ(y[1], -1.0f);
}

TEST(Dequant, Q8_0Signed) {
  uint8_t b[34] = {};
  putF16(b, 0x3C00);
  b[2] = 0x80; // -128
  b[3] = 0x7F; // 127
  float y[32];
  dequantBlockQ8_0(b, y);
  EXPECT_EQ(y[0], -128.0f);
  EXPECT_EQ(y[1], 127.0f);
  EXPECT_EQ(y[2], 0.0f);
}

TEST(Dequant, Q4_KSixBitScalesOfUpperSubBlocks) {
  uint8_t b[144] = {};
  putF16(b, 0x3C00);     // d = 1
  putF16(b + 2, 0x3C00); // dmin = 1
  // Sub-block 4: scale = (s[8] & 15) | (s[0] >> 6) << 4, min = (s[8] >> 4) | (s[4] >> 6) << 4.
  b[4 + 0] = 0x40;  // scale high bits 01
  b[4 + 4] = 0x80;  // min high bits 10
  b[4 + 8] = 0x35;  // scale low 5, min low 3
  for (int i = 0; i < 128; ++i)
    b[16 + i] = 0x21; // low nibble 1, high nibble 2
  float y[256];
  dequantBlockQ4_K(b, y);
  // Sub-block 4 covers elements 128..159 and uses low nibbles of bytes 64..95.
  EXPECT_EQ(y[128], float(16 + 5) * 1 - float(32 + 3));
  // Sub-block 0: scale = s[0] & 63 = 0, min = s[4] & 63 = 0.
  EXPECT_EQ(y[0], 0.0f);
}

TEST(Dequant, Q6_KCentersAt32) {
  uint8_t b[210] = {};
  for (int i = 0; i < 16; ++i)
    b[192 + i] = 1; // all scales 1
  putF16(b + 208, 0x3C00);
  float y[256];
  dequantBlockQ6_K(b, y);
  for (float v : y)
    EXPECT_EQ(v, -32.0f);
  b[0] = 0x0F;   // low 4 bits of element 0
  b[128] = 0x03; // its high 2 bits
  dequantBlockQ6_K(b, y);
  EXPECT_EQ(y[0], 63.0f - 32.0f);
}

TEST(Dequant, Q5_KHighBit) {
  uint8_t b[176] = {};
  putF16(b, 0x3C00);
  b[4] = 1; // sub-block 0 scale 1, min 0
  b[16] = 1; // qh bit 0 of element 0 -> +16
  b[48] = 0x0F;
  float y[256];
  dequantBlockQ5_K(b, y);
  EXPECT_EQ(y[0], 31.0f);
}

// A GPTQ weight built in memory: rows packed along the input dimension,
// v1 zero points stored minus one, and a g_idx that permutes groups.
TEST(Dequant, GptqV1WithActOrder) {
  const int K = 16, N = 8, G = 2;
  std::vector<int32_t> qweight(K / 8 * N), qzeros(G * N / 8), gidx(K);
  std::vector<uint16_t> scales(G * N, 0x3C00); // 1.0
  for (int r = 0; r < K; ++r)
    gidx[r] = (r % 2); // alternate groups: act-order
  for (int c = 0; c < N; ++c)
    for (int r = 0; r < K; ++r)
      qweight[(r / 8) * N + c] |= ((r + c) & 15) << (4 * (r % 8));
  for (int g = 0; g < G; ++g)
    for (int c = 0; c < N; ++c)
      qzeros[g] |= (g * 3 + 1) << (4 * c); // stored z - 1; real zeros 2 and 5
  Weight w;
  w.shape = {N, K};
  w.quant.format = WeightFormat::GPTQ;
  w.quant.bits = 4;
  w.quant.group_size = 8;
  w.quant.zero_code = ZeroCode::V1Word;
  w.quant.act_order = true;
  w.data = {"qweight", "mem", DType::I32, {K / 8, N}, reinterpret_cast<uint8_t *>(qweight.data()), qweight.size() * 4};
  w.zeros = TensorView{"qzeros", "mem", DType::I32, {G, N / 8}, reinterpret_cast<uint8_t *>(qzeros.data()), qzeros.size() * 4};
  w.scales = TensorView{"scales", "mem", DType::F16, {G, N}, reinterpret_cast<uint8_t *>(scales.data()), scales.size() * 2};
  w.g_idx = TensorView{"g_idx", "mem", DType::I32, {K}, reinterpret_cast<uint8_t *>(gidx.data()), gidx.size() * 4};
  float row[K];
  for (int c = 0; c < N; ++c) {
    dequantizeRow(w, c, row);
    for (int r = 0; r < K; ++r)
      EXPECT_EQ(row[r], float(((r + c) & 15) - (r % 2 ? 5 : 2))) << r << "," << c;
  }
}

// A GPTQ v1 weight of one group (GPTQModel's word coding) over the given
// tensors: qweight [K / pack, N], qzeros [1, N / pack], f16 scales [1, N].
static Weight gptqV1OneGroup(int bits, int K, int N, std::vector<int32_t> &qweight, std::vector<int32_t> &qzeros,
                             std::vector<uint16_t> &scales) {
  int pack = 32 / bits;
  Weight w;
  w.shape = {N, K};
  w.quant.format = WeightFormat::GPTQ;
  w.quant.bits = bits;
  w.quant.group_size = K;
  w.quant.zero_code = ZeroCode::V1Word;
  w.data = {"qweight", "mem", DType::I32, {K / pack, N}, reinterpret_cast<uint8_t *>(qweight.data()), qweight.size() * 4};
  w.zeros = TensorView{"qzeros", "mem", DType::I32, {1, N / pack}, reinterpret_cast<uint8_t *>(qzeros.data()), qzeros.size() * 4};
  w.scales = TensorView{"scales", "mem", DType::F16, {1, N}, reinterpret_cast<uint8_t *>(scales.data()), scales.size() * 2};
  return w;
}

// GPTQModel writes v1 zeros as one word minus 0x11111111 with borrow, so real
// zeros [0, 8, 8, 8, 8, 8, 8, 8] are stored as 0x7777776F (fields 15, 6, 7, ...),
// and reads them back by adding with carry. Per-field +1 would read [16, 7, 8, ...].
TEST(Dequant, GptqV1ZeroOfZeroBorrows) {
  const int K = 8, N = 8;
  std::vector<int32_t> qweight(N, int32_t(0x88888888u)), qzeros(1, int32_t(0x7777776Fu)); // every q = 8
  std::vector<uint16_t> scales(N, 0x211F); // 0.01 in f16
  Weight w = gptqV1OneGroup(4, K, N, qweight, qzeros, scales);
  float row[K];
  dequantizeRow(w, 0, row);
  EXPECT_NEAR(row[0], 0.08f, 1e-4f);
  dequantizeRow(w, 1, row);
  EXPECT_EQ(row[0], 0.0f);
  // AutoGPTQ's coding of the same zeros: field 0 = 0 - 1 as an unmasked
  // uint32 sets every bit, so the word is all ones and each field reads 0.
  qzeros[0] = int32_t(0xFFFFFFFFu);
  w.quant.zero_code = ZeroCode::V1Field;
  for (int c = 0; c < N; ++c) {
    dequantizeRow(w, c, row);
    EXPECT_NEAR(row[0], 0.08f, 1e-4f) << c;
  }
}

// 8-bit v1: the addend is 0x01010101; a real zero of 0 in field 0 borrows too.
TEST(Dequant, GptqV1EightBitBorrows) {
  const int K = 4, N = 4;
  // Real zeros [0, 128, 128, 128] minus 0x01010101 with borrow.
  uint32_t stored = 0x80808000u - 0x01010101u;
  std::vector<int32_t> qweight(N, int32_t(0x80808080u)), qzeros(1, int32_t(stored)); // every q = 128
  std::vector<uint16_t> scales(N, 0x3C00);
  Weight w = gptqV1OneGroup(8, K, N, qweight, qzeros, scales);
  float row[K];
  dequantizeRow(w, 0, row);
  EXPECT_EQ(row[0], 128.0f);
  for (int c = 1; c < N; ++c) {
    dequantizeRow(w, c, row);
    EXPECT_EQ(row[0], 0.0f) << c;
  }
}

TEST(Dequant, AwqInterleavedColumns) {
  const int K = 4, N = 8;
  const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  std::vector<int32_t> qweight(K), qzeros(1, 0);
  std::vector<uint16_t> scales(N, 0x3C00);
  for (int r = 0; r < K; ++r)
    for (int i = 0; i < 8; ++i)
      qweight[r] |= ((order[i] + r) & 15) << (4 * i); // nibble i holds column order[i]
  Weight w;
  w.shape = {N, K};
  w.quant.format = WeightFormat::AWQ;
  w.quant.bits = 4;
  w.quant.group_size = K;
  w.data = {"qweight", "mem", DType::I32, {K, 1}, reinterpret_cast<uint8_t *>(qweight.data()), 16};
  w.zeros = TensorView{"qzeros", "mem", DType::I32, {1, 1}, reinterpret_cast<uint8_t *>(qzeros.data()), 4};
  w.scales = TensorView{"scales", "mem", DType::F16, {1, N}, reinterpret_cast<uint8_t *>(scales.data()), 16};
  float row[K];
  for (int c = 0; c < N; ++c) {
    dequantizeRow(w, c, row);
    for (int r = 0; r < K; ++r)
      EXPECT_EQ(row[r], float(c + r)) << r << "," << c;
  }
}
