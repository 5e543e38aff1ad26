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
  bool isX86() const;
};
// Throws mcc::Error naming the target if it is unknown.
TargetSpec targetFor(const std::string &name);

enum class CodeStage { LLVMIR, Asm, Object };
// The module (LLVM dialect) as LLVM IR text, assembly text or an ELF object,
// optimized at -O2. Throws mcc::Error.
std::string emitCode(mlir::ModuleOp module, const TargetSpec &t, CodeStage stage);

// The .text of a generated object and its entry points (offsets into it).
// Throws mcc::Error if the object needs relocations or data sections: the
// runtime loads generated code by copying it, not by linking it.
struct CodeBlob {
  std::vector<uint8_t> text;
  std::map<std::string, uint64_t> entries;
};
CodeBlob codeBlob(const std::string &object);

} // namespace mcc
