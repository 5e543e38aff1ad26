// LLVM dialect module -> machine code for a named target, through
// llvm::TargetMachine; and the generated code as the runtime loads it.
#pragma once

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mcc {

struct TargetSpec {
  std::string name;   // as given: host, x86-64-v3, x86-64-v4, aarch64
  std::string triple; // e.g. x86_64-unknown-linux-gnu
  std::string cpu, features;
  // What the code may use, as the runtime checks it (format/CpuFeatures.h).
  std::vector<std::string> needs;
  bool isX86() const;
};
// Throws mcc::Error naming the target if it is unknown.
TargetSpec targetFor(const std::string &name);
// A comma-separated list of targets, best first ("x86-64-v4,x86-64-v3"):
// one version of the code each, the runtime runs the first this CPU can.
// Throws mcc::Error for an unknown, repeated or mixed-architecture list.
std::vector<TargetSpec> targetsFor(const std::string &list);
// What `mcc compile` targets by default on this machine: every x86-64 CPU
// from x86-64-v3 up (AVX-512 code where the CPU has it); AArch64: host.
std::string defaultTargets();

enum class CodeStage { LLVMIR, Asm, Object };
// The module (LLVM dialect) as LLVM IR text, assembly text or an ELF object,
// optimized at -O2. Throws mcc::Error.
std::string emitCode(mlir::ModuleOp module, const TargetSpec &t, CodeStage stage);

// A generated object linked into one position-independent blob: .text
// first, then its read-only data (constant pools, jump tables), with every
// PC-relative relocation applied (LinkBlob.cpp). The runtime copies the blob
// to a page-aligned address and runs it; nothing is left to link. Throws
// mcc::Error when the object reaches outside itself (an undefined symbol, an
// absolute address, a GOT entry) or needs writable data.
struct CodeBlob {
  std::vector<uint8_t> text;
  std::map<std::string, uint64_t> entries;
};
CodeBlob codeBlob(const std::string &object);

} // namespace mcc
