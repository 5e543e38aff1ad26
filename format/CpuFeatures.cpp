#include "format/CpuFeatures.h"

#include <algorithm>
#include <cstdint>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace mcc {

namespace {

// Where CPUID reports a feature: leaf, subleaf, register (0..3 = eax, ebx,
// ecx, edx), bit; and which OS-saved register state it needs.
enum State : uint8_t { kNone, kAvx, kAvx512 };
struct X86Feature {
  const char *name;
  uint32_t leaf, sub;
  uint8_t reg, bit;
  State state;
};

constexpr X86Feature kX86[] = {
    {"sse3", 1, 0, 2, 0, kNone},          {"pclmul", 1, 0, 2, 1, kNone},
    {"ssse3", 1, 0, 2, 9, kNone},         {"fma", 1, 0, 2, 12, kAvx},
    {"cx16", 1, 0, 2, 13, kNone},         {"sse4.1", 1, 0, 2, 19, kNone},
    {"sse4.2", 1, 0, 2, 20, kNone},       {"movbe", 1, 0, 2, 22, kNone},
    {"popcnt", 1, 0, 2, 23, kNone},       {"aes", 1, 0, 2, 25, kNone},
    {"xsave", 1, 0, 2, 26, kNone},        {"avx", 1, 0, 2, 28, kAvx},
    {"f16c", 1, 0, 2, 29, kAvx},          {"rdrnd", 1, 0, 2, 30, kNone},
    {"bmi", 7, 0, 1, 3, kNone},           {"avx2", 7, 0, 1, 5, kAvx},
    {"bmi2", 7, 0, 1, 8, kNone},          {"avx512f", 7, 0, 1, 16, kAvx512},
    {"avx512dq", 7, 0, 1, 17, kAvx512},   {"rdseed", 7, 0, 1, 18, kNone},
    {"adx", 7, 0, 1, 19, kNone},          {"avx512ifma", 7, 0, 1, 21, kAvx512},
    {"avx512cd", 7, 0, 1, 28, kAvx512},   {"sha", 7, 0, 1, 29, kNone},
    {"avx512bw", 7, 0, 1, 30, kAvx512},   {"avx512vl", 7, 0, 1, 31, kAvx512},
    {"avx512vbmi", 7, 0, 2, 1, kAvx512},  {"avx512vbmi2", 7, 0, 2, 6, kAvx512},
    {"gfni", 7, 0, 2, 8, kNone},          {"vaes", 7, 0, 2, 9, kAvx},
    {"vpclmulqdq", 7, 0, 2, 10, kAvx},    {"avx512vnni", 7, 0, 2, 11, kAvx512},
    {"avx512bitalg", 7, 0, 2, 12, kAvx512}, {"avx512vpopcntdq", 7, 0, 2, 14, kAvx512},
    {"avx512fp16", 7, 0, 3, 23, kAvx512}, {"avxvnni", 7, 1, 0, 4, kAvx},
    {"avx512bf16", 7, 1, 0, 5, kAvx512},  {"sahf", 0x80000001, 0, 2, 0, kNone},
    {"lzcnt", 0x80000001, 0, 2, 5, kNone}, {"prfchw", 0x80000001, 0, 2, 8, kNone},
    // LLVM's switch for 512-bit AVX-512 registers: present with avx512f.
    {"evex512", 7, 0, 1, 16, kAvx512},
};

// Every x86-64 CPU has these (the psABI baseline).
constexpr const char *kX86Baseline[] = {"64bit", "cmov", "cx8", "fxsr", "mmx", "sse", "sse2", "x87"};

#if defined(__x86_64__)
bool x86Has(const X86Feature &f) {
  unsigned r[4];
  unsigned maxLeaf = __get_cpuid_max(f.leaf & 0x80000000u, nullptr);
  if (maxLeaf < f.leaf)
    return false;
  __cpuid_count(f.leaf, f.sub, r[0], r[1], r[2], r[3]);
  if (!(r[f.reg] >> f.bit & 1))
    return false;
  if (f.state == kNone)
    return true;
  // The OS must save the wider registers: OSXSAVE, then XCR0's bits.
  unsigned a, b, c, d;
  __cpuid(1, a, b, c, d);
  if (!(c >> 27 & 1))
    return false;
  uint32_t lo, hi;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  uint32_t want = f.state == kAvx ? 0x6u : 0xE6u; // SSE|AVX (+ opmask|ZMM_Hi256|Hi16_ZMM)
  return (lo & want) == want;
}
#endif

} // namespace

bool knownCpuFeature(std::string_view name) {
  for (const X86Feature &f : kX86)
    if (name == f.name)
      return true;
  for (const char *b : kX86Baseline)
    if (name == b)
      return true;
  return name == "neon" || name == "dotprod" || name == "i8mm";
}

bool cpuHas(std::string_view name) {
#if defined(__x86_64__)
  for (const char *b : kX86Baseline)
    if (name == b)
      return true;
  for (const X86Feature &f : kX86)
    if (name == f.name)
      return x86Has(f);
  return false;
#elif defined(__aarch64__)
  unsigned long hw = ::getauxval(AT_HWCAP), hw2 = ::getauxval(AT_HWCAP2);
  if (name == "neon")
    return hw & HWCAP_ASIMD;
  if (name == "dotprod")
    return hw & HWCAP_ASIMDDP;
  if (name == "i8mm")
    return hw2 & HWCAP2_I8MM;
  return false;
#else
  (void)name;
  return false;
#endif
}

std::vector<std::string> missingCpuFeatures(const std::vector<std::string> &needs) {
  std::vector<std::string> out;
  for (const std::string &n : needs)
    if (!cpuHas(n))
      out.push_back(n);
  return out;
}

std::vector<std::string> x86LevelFeatures(std::string_view level) {
  std::vector<std::string> f = {"cx16", "sahf", "popcnt", "sse3", "sse4.1", "sse4.2", "ssse3"};
  if (level == "x86-64-v2")
    return f;
  for (const char *x : {"avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave"})
    f.push_back(x);
  if (level == "x86-64-v3")
    return f;
  for (const char *x : {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"})
    f.push_back(x);
  return f;
}

} // namespace mcc
