#include "format/Half.h"

#include <cmath>
#include <gtest/gtest.h>
#if defined(__F16C__)
#include <immintrin.h>
#endif

using namespace mcc;

TEST(Half, NormalsZerosInfinities) {
  EXPECT_EQ(fp16ToFloat(0x3C00), 1.0f);
  EXPECT_EQ(fp16ToFloat(0xC000), -2.0f);
  EXPECT_EQ(fp16ToFloat(0x7BFF), 65504.0f);
  EXPECT_EQ(floatToBits(fp16ToFloat(0x8000)), 0x80000000u);
  EXPECT_TRUE(std::isinf(fp16ToFloat(0x7C00)));
  EXPECT_TRUE(std::isnan(fp16ToFloat(0x7E00)));
}

TEST(Half, EverySubnormalIsExact) {
  // Subnormal halves are m * 2^-24; each is a normal float.
  for (uint16_t m = 1; m < 0x400; ++m)
    EXPECT_EQ(fp16ToFloat(m), std::ldexp(float(m), -24)) << m;
}

TEST(Half, AgreesWithF16CForEveryValue) {
#if defined(__F16C__)
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float ref = _cvtsh_ss(uint16_t(h));
    float got = fp16ToFloat(uint16_t(h));
    if (std::isnan(ref))
      EXPECT_TRUE(std::isnan(got));
    else
      EXPECT_EQ(floatToBits(got), floatToBits(ref)) << std::hex << h;
  }
#else
  GTEST_SKIP() << "built without F16C";
#endif
}

TEST(Half, BFloat16) {
  EXPECT_EQ(bf16ToFloat(0x3F80), 1.0f);
  EXPECT_EQ(bf16ToFloat(0xC040), -3.0f);
}

// float -> half rounds as the hardware does (F16C, round to nearest even),
// over every half's neighbourhood: the value itself, the midpoints to its
// neighbours, and a little either side of them.
TEST(Half, FloatToHalfAgreesWithF16C) {
#if defined(__F16C__)
  int checked = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float v = fp16ToFloat(uint16_t(h));
    if (std::isnan(v))
      continue;
    float next = fp16ToFloat(uint16_t((h & 0x7fff) == 0x7bff ? h : h + 1));
    float mid = v + (next - v) / 2;
    for (float f : {v, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f), -v, -mid}) {
      ASSERT_EQ(floatToFp16(f), _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)) << f;
      ++checked;
    }
  }
  for (float f : {1e6f, -1e6f, 65519.0f, 65520.0f, INFINITY, -INFINITY, 1e-10f, -1e-10f})
    ASSERT_EQ(floatToFp16(f), _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT)) << f;
  EXPECT_TRUE(std::isnan(fp16ToFloat(floatToFp16(NAN))));
  EXPECT_GT(checked, 300000);
#else
  GTEST_SKIP() << "built without F16C";
#endif
}
