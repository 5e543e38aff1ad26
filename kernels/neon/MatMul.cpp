// AArch64 NEON block kernels (every AArch64 CPU has NEON and FMA).
#include "kernels/Kernels.h"

#if defined(__aarch64__)
#include "format/Dequant.h"
#include "format/Half.h"
#include "kernels/Activation.h"
#include "kernels/AttentionEngine.h"
#include "kernels/RmsNorm.h"
#include "kernels/TileEngine.h"

#include <arm_neon.h>

namespace mcc::kernels {

namespace {

struct Neon {
  using V = float32x4_t;
  static constexpr int W = 4;
  static constexpr int kDecodeRows = 4, kPrefillRows = 2, kPrefillTokens = 4;
  static V zero() { return vdupq_n_f32(0.0f); }
  static V load(const float *p) { return vld1q_f32(p); }
  static V fma(V a, V b, V acc) { return vfmaq_f32(acc, a, b); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V broadcast(float f) { return vdupq_n_f32(f); }
  static V loadHalf(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static V loadI8(const int8_t *p) {
    int32_t four;
    std::memcpy(&four, p, 4);
    int16x8_t wide = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(four)));
    return vcvtq_f32_s32(vmovl_s16(vget_low_s16(wide)));
  }
  static void store(float *p, V v) { vst1q_f32(p, v); }
  static float sum(V v) { return vaddvq_f32(v); }
  // For attention (AttentionEngine.h).
  static V sub(V a, V b) { return vsubq_f32(a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V div(V a, V b) { return vdivq_f32(a, b); }
  static V max(V a, V b) { return vmaxq_f32(a, b); }
  static V min(V a, V b) { return vminq_f32(a, b); }
  static float hmax(V v) { return vmaxvq_f32(v); }
  static V round(V v) { return vrndnq_f32(v); }
  static V scale2(V p, V n) {
    int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
    return vmulq_f32(p, vreinterpretq_f32_s32(e));
  }
  static V exp(V x) { return expPoly<Neon>(x); }
  // For RMS normalization (RmsNorm.h): sums 0-1, 2-3, 4-5, 6-7.
  struct D8 {
    float64x2_t s[4];
  };
  static D8 zero8() { return {{vdupq_n_f64(0), vdupq_n_f64(0), vdupq_n_f64(0), vdupq_n_f64(0)}}; }
  static D8 addSquares(D8 a, const float *x) {
    float32x4_t l = vld1q_f32(x), h = vld1q_f32(x + 4);
    float64x2_t v[4] = {vcvt_f64_f32(vget_low_f32(l)), vcvt_high_f64_f32(l), vcvt_f64_f32(vget_low_f32(h)),
                        vcvt_high_f64_f32(h)};
    for (int i = 0; i < 4; ++i)
      a.s[i] = vfmaq_f64(a.s[i], v[i], v[i]); // exact products: a multiply, then an add
    return a;
  }
  static void spill(D8 a, double *out) {
    for (int i = 0; i < 4; ++i)
      vst1q_f64(out + 2 * i, a.s[i]);
  }
};

inline float half(const uint8_t *p) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(loadU16(p)))), 0); }

// Sixteen bytes as sixteen floats, four vectors.
inline void u8f(uint8x16_t b, float32x4_t *o) {
  uint16x8_t lo = vmovl_u8(vget_low_u8(b)), hi = vmovl_u8(vget_high_u8(b));
  o[0] = vcvtq_f32_u32(vmovl_u16(vget_low_u16(lo)));
  o[1] = vcvtq_f32_u32(vmovl_u16(vget_high_u16(lo)));
  o[2] = vcvtq_f32_u32(vmovl_u16(vget_low_u16(hi)));
  o[3] = vcvtq_f32_u32(vmovl_u16(vget_high_u16(hi)));
}
inline void i8f(int8x16_t b, float32x4_t *o) {
  int16x8_t lo = vmovl_s8(vget_low_s8(b)), hi = vmovl_s8(vget_high_s8(b));
  o[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
  o[1] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(lo)));
  o[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
  o[3] = vcvtq_f32_s32(vmovl_s16(vget_high_s16(hi)));
}

// Each expansion computes float(q) * d (+ m), as the scalar dequantization does.
void expandQ4_0(const uint8_t *blk, int, float32x4_t *o) {
  float d = half(blk);
  uint8x16_t b = vld1q_u8(blk + 2);
  int8x16_t eight = vdupq_n_s8(8);
  i8f(vsubq_s8(vreinterpretq_s8_u8(vandq_u8(b, vdupq_n_u8(0x0F))), eight), o);
  i8f(vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(b, 4)), eight), o + 4);
  for (int i = 0; i < 8; ++i)
    o[i] = vmulq_n_f32(o[i], d);
}

// 32 nibbles as q * d + m: Q4_1 (f16 d, m) and PK4 (f32 d, m) differ only
// in where d and m come from.
inline void nibblesAffine(const uint8_t *qs, float d, float m, float32x4_t *o) {
  uint8x16_t b = vld1q_u8(qs);
  u8f(vandq_u8(b, vdupq_n_u8(0x0F)), o);
  u8f(vshrq_n_u8(b, 4), o + 4);
  for (int i = 0; i < 8; ++i)
    o[i] = vaddq_f32(vmulq_f32(o[i], vdupq_n_f32(d)), vdupq_n_f32(m));
}

void expandQ4_1(const uint8_t *blk, int, float32x4_t *o) { nibblesAffine(blk + 4, half(blk), half(blk + 2), o); }

void expandQ8_0(const uint8_t *blk, int, float32x4_t *o) {
  float d = half(blk);
  i8f(vld1q_s8(reinterpret_cast<const int8_t *>(blk + 2)), o);
  i8f(vld1q_s8(reinterpret_cast<const int8_t *>(blk + 18)), o + 4);
  for (int i = 0; i < 8; ++i)
    o[i] = vmulq_n_f32(o[i], d);
}

inline float f32at(const uint8_t *p) { return bitsToFloat(loadU32(p)); }

void expandPK4(const uint8_t *blk, int, float32x4_t *o) { nibblesAffine(blk + 8, f32at(blk), f32at(blk + 4), o); }

void expandPK4_128(const uint8_t *blk, int sub, float32x4_t *o) {
  nibblesAffine(blk + 8 + 16 * sub, f32at(blk), f32at(blk + 4), o);
}

void expandPK8(const uint8_t *blk, int, float32x4_t *o) {
  float32x4_t d = vdupq_n_f32(f32at(blk)), m = vdupq_n_f32(f32at(blk + 4));
  u8f(vld1q_u8(blk + 8), o);
  u8f(vld1q_u8(blk + 24), o + 4);
  for (int i = 0; i < 8; ++i)
    o[i] = vaddq_f32(vmulq_f32(o[i], d), m);
}

void expandF16(const uint8_t *blk, int, float32x4_t *o) {
  for (int i = 0; i < 8; ++i)
    o[i] = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const uint16_t *>(blk) + 4 * i)));
}

void expandBF16(const uint8_t *blk, int, float32x4_t *o) {
  for (int i = 0; i < 8; ++i)
    o[i] = vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(reinterpret_cast<const uint16_t *>(blk) + 4 * i), 16));
}

void expandF32(const uint8_t *blk, int, float32x4_t *o) {
  for (int i = 0; i < 8; ++i)
    o[i] = vld1q_f32(reinterpret_cast<const float *>(blk) + 4 * i);
}

float dotNeon(const float *a, const float *b, int64_t n) {
  float32x4_t acc0 = vdupq_n_f32(0), acc1 = vdupq_n_f32(0);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
  }
  float s = vaddvq_f32(vaddq_f32(acc0, acc1));
  for (; i < n; ++i)
    s += a[i] * b[i];
  return s;
}

} // namespace

const KernelTable *neonTable() {
  static const KernelTable t = [] {
    KernelTable k{"neon",
                             BlockEngine<Neon, 18, expandQ4_0>::run,
                             BlockEngine<Neon, 20, expandQ4_1>::run,
                             BlockEngine<Neon, 34, expandQ8_0>::run,
                             BlockEngine<Neon, kPK4Bytes, expandPK4>::run,
                             BlockEngine<Neon, kPK8Bytes, expandPK8>::run,
                             BlockEngine<Neon, 64, expandF16>::run,
                             BlockEngine<Neon, 64, expandBF16>::run,
                             BlockEngine<Neon, 128, expandF32>::run,
                             BlockEngine<Neon, kPK4_128Bytes, expandPK4_128, 128>::run,
                             nullptr, nullptr, nullptr, nullptr,
                             nullptr, nullptr, nullptr, nullptr,
                             dotNeon,
                             AttentionEngine<Neon>::run,
                             Activation<Neon>::run};
    k.attend_i8 = AttentionEngine<Neon, true>::run;
    k.rms_norm = RmsNorm<Neon>::run;
    return k;
  }();
  return &t;
}

} // namespace mcc::kernels

#else
namespace mcc::kernels {
const KernelTable *neonTable() { return nullptr; }
} // namespace mcc::kernels
#endif
