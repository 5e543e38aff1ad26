// CPU features under LLVM's names: what generated code is compiled to need
// (the compiler records them beside the code) and what the CPU running it
// has (CPUID with the OS's register-state bits on x86-64, HWCAP on AArch64).
// The runtime picks the best code whose needs are all met, or stops with a
// message instead of an illegal instruction.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mcc {

// Whether `name` is a feature this table can check.
bool knownCpuFeature(std::string_view name);

// Whether this CPU (and OS) supports `name`; false for unknown names.
bool cpuHas(std::string_view name);

// The entries of `needs` this CPU lacks, in their order.
std::vector<std::string> missingCpuFeatures(const std::vector<std::string> &needs);

// The x86-64 psABI levels as feature lists: "x86-64-v3", "x86-64-v4".
std::vector<std::string> x86LevelFeatures(std::string_view level);

} // namespace mcc
