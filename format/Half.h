// IEEE half and bfloat16 to float, bit-exact, with no dependence on F16C so
// the scalar references behave the same on every host.
#pragma once

#include <cstdint>
#include <cstring>

namespace mcc {

inline float bitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline uint32_t floatToBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float fp16ToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0) {
    if (mant == 0)
      return bitsToFloat(sign);
    // Subnormal half: every one is a normal float.
    int shift = 0;
    while (!(mant & 0x400)) {
      mant <<= 1;
      ++shift;
    }
    mant &= 0x3ff;
    return bitsToFloat(sign | uint32_t(127 - 15 - shift + 1) << 23 | mant << 13);
  }
  if (exp == 31)
    return bitsToFloat(sign | 0x7f800000u | mant << 13);
  return bitsToFloat(sign | (exp + 127 - 15) << 23 | mant << 13);
}

// Round to nearest, ties to even, as F16C and NEON's fcvt do; NaN stays NaN,
// overflow becomes infinity.
inline uint16_t floatToFp16(float f) {
  uint32_t x = floatToBits(f);
  uint16_t sign = uint16_t((x >> 16) & 0x8000);
  uint32_t a = x & 0x7fffffff;
  if (a > 0x7f800000)
    return uint16_t(sign | 0x7e00 | ((a >> 13) & 0x3ff));
  if (a >= 0x477ff000) // 65520 and up round to infinity
    return uint16_t(sign | 0x7c00);
  if (a < 0x38800000) { // below 2^-14: a subnormal half (or zero), in units of 2^-24
    float scaled = bitsToFloat(a) * 16777216.0f; // exact: a power-of-two scaling
    uint32_t m = uint32_t(scaled);
    float rest = scaled - float(m);
    if (rest > 0.5f || (rest == 0.5f && (m & 1)))
      ++m;
    return uint16_t(sign | m);
  }
  // Rebias the exponent (127 -> 15) and round the 13 dropped bits to even.
  uint32_t r = a - 0x38000000u + 0xfffu + ((a >> 13) & 1);
  return uint16_t(sign | (r >> 13));
}

inline float bf16ToFloat(uint16_t b) { return bitsToFloat(uint32_t(b) << 16); }

inline uint16_t loadU16(const uint8_t *p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint32_t loadU32(const uint8_t *p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline uint64_t loadU64(const uint8_t *p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

} // namespace mcc
