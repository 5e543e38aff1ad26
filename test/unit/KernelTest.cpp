// Every SIMD kernel against the scalar reference, on odd block counts and
// random data; and the int8-activation fast paths against the exact
// dequantize-then-dot result, to bound what activation quantization costs.
#include "compiler/import/Dequant.h"
#include "compiler/import/Half.h"
#include "kernels/Kernels.h"

#include <cmath>
#include <gtest/gtest.h>
#include <random>
#include <vector>

using namespace mcc;
using namespace mcc::kernels;

namespace {

std::vector<const DotTable *> simdTables() {
  std::vector<const DotTable *> t;
  if (const DotTable *a = avx2Table())
    t.push_back(a);
  return t;
}

uint16_t halfOf(float f) {
  // Small positive scales only: exact enough for test data.
  int e;
  float m = std::frexp(f, &e);
  return uint16_t((e + 14) << 10 | (int(m * 2048) - 1024));
}

std::vector<uint8_t> randomBlocks(WeightFormat f, int64_t nb, std::mt19937 &rng) {
  int bytes = f == WeightFormat::Q4_0 ? 18 : f == WeightFormat::Q4_1 ? 20 : 34;
  std::vector<uint8_t> w(static_cast<size_t>(nb * bytes));
  for (auto &b : w)
    b = uint8_t(rng());
  std::uniform_real_distribution<float> sd(0.001f, 0.1f);
  for (int64_t i = 0; i < nb; ++i) {
    uint16_t d = halfOf(sd(rng)), m = uint16_t(halfOf(sd(rng)) | 0x8000);
    std::memcpy(&w[size_t(i * bytes)], &d, 2);
    if (f == WeightFormat::Q4_1)
      std::memcpy(&w[size_t(i * bytes + 2)], &m, 2);
  }
  return w;
}

std::vector<float> randomVector(int64_t n, std::mt19937 &rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto &v : x)
    v = nd(rng);
  x[0] = 7.5f; // one outlier, as real activations have
  return x;
}

} // namespace

TEST(Kernels, QuantizeMatchesReference) {
  std::mt19937 rng(7);
  for (const DotTable *t : simdTables())
    for (int64_t nb : {1, 3, 7, 18, 33}) {
      auto x = randomVector(nb * 32, rng);
      std::vector<QBlock8> a(static_cast<size_t>(nb)), b(static_cast<size_t>(nb));
      genericTable().quantize(x.data(), a.data(), nb * 32);
      t->quantize(x.data(), b.data(), nb * 32);
      for (int64_t i = 0; i < nb; ++i) {
        EXPECT_EQ(a[size_t(i)].d, b[size_t(i)].d) << t->isa << " block " << i;
        EXPECT_FLOAT_EQ(a[size_t(i)].dsum, b[size_t(i)].dsum) << t->isa << " block " << i;
        for (int j = 0; j < 32; ++j)
          ASSERT_EQ(a[size_t(i)].q[j], b[size_t(i)].q[j]) << t->isa << " block " << i << " elem " << j;
      }
    }
}

TEST(Kernels, DotsMatchReferenceOnOddShapes) {
  std::mt19937 rng(11);
  for (const DotTable *t : simdTables())
    for (WeightFormat f : {WeightFormat::Q4_0, WeightFormat::Q4_1, WeightFormat::Q8_0})
      for (int64_t nb : {1, 2, 3, 5, 7, 18, 33, 48}) {
        auto w = randomBlocks(f, nb, rng);
        auto x = randomVector(nb * 32, rng);
        std::vector<QBlock8> xq(static_cast<size_t>(nb));
        genericTable().quantize(x.data(), xq.data(), nb * 32);
        auto pick = [&](const DotTable &d) {
          return f == WeightFormat::Q4_0 ? d.dotQ4_0 : f == WeightFormat::Q4_1 ? d.dotQ4_1 : d.dotQ8_0;
        };
        float ref = pick(genericTable())(w.data(), xq.data(), nb);
        float got = pick(*t)(w.data(), xq.data(), nb);
        EXPECT_NEAR(got, ref, 1e-5f * (1.0f + std::fabs(ref))) << t->isa << " " << formatName(f) << " nb " << nb;
      }
}

TEST(Kernels, F32ActivationDotsMatchReferenceOnOddShapes) {
  std::mt19937 rng(13);
  for (const DotTable *t : simdTables())
    for (WeightFormat f : {WeightFormat::Q4_0, WeightFormat::Q4_1, WeightFormat::Q8_0})
      for (int64_t nb : {1, 2, 3, 5, 7, 18, 33, 48}) {
        auto w = randomBlocks(f, nb, rng);
        auto x = randomVector(nb * 32, rng);
        std::vector<float> xsum(static_cast<size_t>(nb));
        blockSums(x.data(), xsum.data(), nb * 32);
        auto run = [&](const DotTable &d) {
          return f == WeightFormat::Q4_0   ? d.dotQ4_0F(w.data(), x.data(), xsum.data(), nb)
                 : f == WeightFormat::Q4_1 ? d.dotQ4_1F(w.data(), x.data(), xsum.data(), nb)
                                           : d.dotQ8_0F(w.data(), x.data(), nb);
        };
        float ref = run(genericTable()), got = run(*t);
        EXPECT_NEAR(got, ref, 1e-4f * (1.0f + std::fabs(ref))) << t->isa << " " << formatName(f) << " nb " << nb;
      }
}

// The f32 paths equal the exact product (dequantize, then dot) to rounding.
TEST(Kernels, F32ActivationsAreExact) {
  std::mt19937 rng(17);
  const int64_t K = 576, nb = K / 32;
  for (WeightFormat f : {WeightFormat::Q4_0, WeightFormat::Q4_1, WeightFormat::Q8_0}) {
    auto w = randomBlocks(f, nb, rng);
    auto x = randomVector(K, rng);
    Weight wt;
    wt.shape = {1, K};
    wt.quant.format = f;
    wt.data.data = w.data();
    wt.data.bytes = w.size();
    std::vector<float> row(static_cast<size_t>(K)), xsum(static_cast<size_t>(nb));
    dequantizeRow(wt, 0, row.data());
    double exact = 0, scale = 0;
    for (int64_t i = 0; i < K; ++i) {
      exact += double(row[size_t(i)]) * x[size_t(i)];
      scale += std::fabs(double(row[size_t(i)]) * x[size_t(i)]);
    }
    blockSums(x.data(), xsum.data(), K);
    float got = 0;
    matvecRows(bestTable(), wt, Activation{x.data(), xsum.data(), nullptr}, &got, 0, 1, row.data());
    EXPECT_LT(std::fabs(got - exact) / scale, 1e-5) << formatName(f);
  }
}

TEST(Kernels, F32DotOnOddLengths) {
  std::mt19937 rng(3);
  for (const DotTable *t : simdTables())
    for (int64_t n : {1, 7, 15, 16, 17, 63, 64, 65, 577}) {
      auto a = randomVector(n, rng), b = randomVector(n, rng);
      double ref = 0;
      for (int64_t i = 0; i < n; ++i)
        ref += double(a[size_t(i)]) * b[size_t(i)];
      EXPECT_NEAR(t->dotF32(a.data(), b.data(), n), ref, 1e-4 * (1 + std::fabs(ref))) << t->isa << " n " << n;
    }
}

// The fast paths quantize activations to int8 per block of 32. Against the
// exact product (dequantized weights, f32 activations) the error of a row of
// 576 must stay well under 1% of the product's scale.
TEST(Kernels, Int8ActivationsCostLittle) {
  std::mt19937 rng(5);
  const int64_t K = 576, nb = K / 32;
  for (WeightFormat f : {WeightFormat::Q4_0, WeightFormat::Q4_1, WeightFormat::Q8_0}) {
    double worst = 0;
    for (int trial = 0; trial < 50; ++trial) {
      auto w = randomBlocks(f, nb, rng);
      auto x = randomVector(K, rng);
      Weight wt;
      wt.shape = {1, K};
      wt.quant.format = f;
      wt.data.data = w.data();
      wt.data.bytes = w.size();
      std::vector<float> row(static_cast<size_t>(K));
      dequantizeRow(wt, 0, row.data());
      double exact = 0, scale = 0;
      for (int64_t i = 0; i < K; ++i) {
        exact += double(row[size_t(i)]) * x[size_t(i)];
        scale += std::fabs(double(row[size_t(i)]) * x[size_t(i)]);
      }
      std::vector<QBlock8> xq(static_cast<size_t>(nb));
      const DotTable &t = bestTable();
      t.quantize(x.data(), xq.data(), K);
      float fast = 0;
      matvecRows(t, wt, Activation{x.data(), nullptr, xq.data()}, &fast, 0, 1, row.data());
      worst = std::max(worst, std::fabs(fast - exact) / scale);
    }
    EXPECT_LT(worst, 0.01) << formatName(f);
    std::printf("[ info ] %s: int8 activations, worst |error| / sum|w*x| = %.2e\n", formatName(f), worst);
  }
}
