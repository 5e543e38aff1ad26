#include "compiler/import/Half.h"

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
