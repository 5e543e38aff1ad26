// The int8 KV cache's quantization and key rotation (kernels/Kernels.h,
// KvType): what attention relies on, checked in plain arithmetic.
#include "kernels/Kernels.h"

#include <cmath>
#include <gtest/gtest.h>
#include <random>
#include <vector>

using namespace mcc::kernels;

TEST(KvCache, QuantizeKeepsEachValueWithinHalfItsGroupsStep) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  for (int64_t hd : {8, 24, 64, 80, 128}) {
    std::vector<float> x(static_cast<size_t>(hd));
    for (float &v : x)
      v = nd(rng);
    x[size_t(hd / 2)] = 40.0f; // an outlier: only its own group's scale grows
    std::vector<int8_t> q(size_t(hd * 3));
    std::vector<float> d(size_t(kvGroups(hd) * 2));
    quantizeKv(x.data(), hd, q.data(), 3, reinterpret_cast<uint8_t *>(d.data()), 2); // strided, as a key's column is
    for (int64_t e = 0; e < hd; ++e) {
      const float step = d[size_t(e / kKvGroup * 2)];
      EXPECT_LE(std::fabs(float(q[size_t(e * 3)]) * step - x[size_t(e)]), step / 2 * 1.0001f) << hd << " " << e;
    }
    EXPECT_FLOAT_EQ(d[size_t(hd / 2 / kKvGroup * 2)], 40.0f / 127.0f) << hd;
  }
  // A group of zeros: scale 0, every value 0 (no division by zero).
  std::vector<float> zeros(32, 0.0f);
  std::vector<int8_t> q(32, 1);
  float d = -1;
  quantizeKv(zeros.data(), 32, q.data(), 1, reinterpret_cast<uint8_t *>(&d), 1);
  EXPECT_EQ(d, 0.0f);
  for (int8_t v : q)
    EXPECT_EQ(v, 0);
}

TEST(KvCache, RotationIsItsOwnInverseAndKeepsDotProducts) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int64_t hd : {8, 24, 64, 80, 128}) {
    std::vector<float> a(static_cast<size_t>(hd)), b(static_cast<size_t>(hd));
    for (int64_t e = 0; e < hd; ++e) {
      a[size_t(e)] = nd(rng);
      b[size_t(e)] = nd(rng);
    }
    std::vector<float> ra = a, rb = b;
    rotateKv(ra.data(), hd);
    rotateKv(rb.data(), hd);
    double dot = 0, rdot = 0;
    for (int64_t e = 0; e < hd; ++e) {
      dot += double(a[size_t(e)]) * b[size_t(e)];
      rdot += double(ra[size_t(e)]) * rb[size_t(e)];
    }
    EXPECT_NEAR(rdot, dot, 1e-4 * (1 + std::fabs(dot))) << hd;
    if (hd >= kKvGroup)
      EXPECT_NE(ra, a) << hd; // a whole group turned
    // The partial last group (or a head smaller than a group) as it was.
    for (int64_t e = hd / kKvGroup * kKvGroup; e < hd; ++e)
      EXPECT_EQ(ra[size_t(e)], a[size_t(e)]) << hd << " " << e;
    rotateKv(ra.data(), hd);
    for (int64_t e = 0; e < hd; ++e)
      EXPECT_NEAR(ra[size_t(e)], a[size_t(e)], 1e-5f) << hd << " " << e;
  }
}

TEST(KvCache, RotationSpreadsAnOutlierOverItsGroup) {
  // One large channel: turned, every element of its group carries 1/sqrt(32)
  // of it, so the group's int8 step shrinks for the other channels.
  std::vector<float> x(64, 0.0f);
  x[5] = 32.0f;
  rotateKv(x.data(), 64);
  for (int e = 0; e < 32; ++e)
    EXPECT_NEAR(std::fabs(x[size_t(e)]), 32.0f / std::sqrt(32.0f), 1e-4f) << e;
  for (int e = 32; e < 64; ++e)
    EXPECT_EQ(x[size_t(e)], 0.0f) << e;
}

TEST(KvCache, LayoutSizes) {
  EXPECT_EQ(keyBlockBytes(KvType::F16, 64), 16 * 64 * 2);
  EXPECT_EQ(keyBlockBytes(KvType::I8, 64), 16 * 64 + 16 * 2 * 4);
  EXPECT_EQ(valueRowBytes(KvType::I8, 80), 80 + 3 * 4);
  EXPECT_EQ(valueRowBytes(KvType::F16, 80), 160);
}
