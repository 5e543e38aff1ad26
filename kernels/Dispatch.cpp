#include "kernels/Kernels.h"
#include "format/CpuFeatures.h"

#include <cstdlib>
#include <cstring>

namespace mcc::kernels {

// The CPU is checked here, in a file built for the baseline: a table's own
// file is built for its ISA, and even building the table there may use its
// instructions (an AVX-512 store of the struct traps on an AVX2 CPU).
std::vector<const KernelTable *> availableTables() {
  auto has = [](std::initializer_list<const char *> fs) {
    for (const char *f : fs)
      if (!cpuHas(f))
        return false;
    return true;
  };
  std::vector<const KernelTable *> v;
  if (has({"avx512f", "avx512bw", "avx512vl", "fma", "f16c"})) {
    if (has({"avx512vnni"}))
      v.push_back(avx512JitTable());
    v.push_back(avx512Table());
    // Last of the AVX-512 ones: never chosen over them, but checked.
    if (has({"avx512vnni"}))
      v.push_back(avx512NoVnniTable());
  }
  if (has({"avx2", "fma", "f16c"}))
    v.push_back(avx2Table());
  if (has({"neon"}))
    v.push_back(neonTable());
  std::erase(v, nullptr); // ISAs this build has no kernels for
  v.push_back(&genericTable());
  return v;
}

const KernelTable &bestTable() {
  static const KernelTable *t = [] {
    auto all = availableTables();
    if (const char *force = std::getenv("MCC_ISA"))
      for (const KernelTable *k : all)
        if (std::strcmp(k->isa, force) == 0)
          return k;
    // MCC_JIT=0: the tables built ahead of time only.
    const char *jit = std::getenv("MCC_JIT");
    for (const KernelTable *k : all)
      if (!(jit && std::strcmp(jit, "0") == 0 && k->prepare))
        return k;
    return all.back();
  }();
  return *t;
}

BlockMatMul int8Kernel(const KernelTable &t, WeightFormat layout, int64_t K, bool decode) {
  if (K % 32 != 0)
    return nullptr;
  switch (layout) {
  case WeightFormat::Q4_0: return decode ? t.q4_0_i8x2 : t.q4_0_i8;
  case WeightFormat::Q4_1: return decode ? t.q4_1_i8x2 : t.q4_1_i8;
  case WeightFormat::PK4: return decode ? t.pk4_i8x2 : t.pk4_i8;
  case WeightFormat::PK4_128: return K % 128 != 0 ? nullptr : decode ? t.pk4_128_i8x2 : t.pk4_128_i8;
  default: return nullptr;
  }
}

namespace {
// A panel layout's entry in a set of panel entries (KernelTable::Panels or
// PanelRuns: the same members), or nullptr.
template <class Set> auto panelEntry(const Set &p, WeightFormat layout) -> decltype(p.q4_0) {
  switch (layout) {
  case WeightFormat::Q4_0: return p.q4_0;
  case WeightFormat::Q4_1: return p.q4_1;
  case WeightFormat::PK4: return p.pk4;
  case WeightFormat::PK4_128: return p.pk4_128;
  case WeightFormat::Q8_0: return p.q8_0;
  default: return nullptr;
  }
}
} // namespace

BlockMatMul panelKernel(const KernelTable &t, WeightFormat layout, bool decode) {
  return panelEntry(decode ? t.panels_x2 : t.panels, layout);
}

PanelRun panelRun(const KernelTable &t, WeightFormat layout, bool decode) {
  return panelEntry(decode ? t.panel_runs_x2 : t.panel_runs, layout);
}

BlockMatMul blockKernel(const KernelTable &t, WeightFormat layout, int64_t K, int64_t T, Precision p, bool panels) {
  if (K % 32 != 0)
    return nullptr;
  if (panels)
    return p == Precision::Int8 ? panelKernel(t, layout, T < kIntMinTokens) : nullptr;
  if (p == Precision::Int8)
    if (BlockMatMul f = int8Kernel(t, layout, K, T < kIntMinTokens))
      return f;
  switch (layout) {
  case WeightFormat::Q4_0: return t.q4_0;
  case WeightFormat::Q4_1: return t.q4_1;
  case WeightFormat::Q8_0: return t.q8_0;
  case WeightFormat::PK4: return t.pk4;
  case WeightFormat::PK8: return t.pk8;
  case WeightFormat::PK4_128: return K % 128 == 0 ? t.pk4_128 : nullptr;
  case WeightFormat::F16: return t.f16;
  case WeightFormat::BF16: return t.bf16;
  case WeightFormat::F32: return t.f32;
  default: return nullptr;
  }
}

} // namespace mcc::kernels
