// The graph stages as plain C++ for the driver: the driver is built with
// RTTI, LLVM/MLIR without, so MLIR types stay behind this header.
#pragma once

#include "format/ModelDesc.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mcc {

struct GraphOptions {
  bool fuse = true;
  // host, x86-64-v3, x86-64-v4, aarch64, or a comma-separated list of them,
  // best first (code generation makes one version each; --emit writes the
  // first). Empty: defaultTargets().
  std::string target;
};

// What `mcc compile --emit` writes: the graph in the mcc dialect (before or
// after fusion), LLVM IR, assembly, or the ELF object. Throws mcc::Error if
// the graph fails to build, verify, fuse or compile.
enum class Stage { Mlir, MlirFused, LLVMIR, Asm, Object };
std::string emitStage(const ModelDesc &m, const GraphOptions &o, Stage s);

// The machine code the executable carries (GeneratedAbi.h): position-
// independent .text, its entry points, the workspace it needs.
struct GeneratedCode {
  std::string target, triple;
  std::vector<std::string> needs; // CPU features the code uses
  std::vector<uint8_t> text;
  std::map<std::string, uint64_t> entries; // mcc_decode, mcc_prefill64, ...
  int64_t workspace_floats = 0;
};
// One version per target of o.target, in its order.
std::vector<GeneratedCode> generateCode(const ModelDesc &m, const GraphOptions &o);
// o.target, or the default when it is empty.
std::string targetList(const GraphOptions &o);

// The fused graph's op counts, weight bytes read per decoded token, and the
// tokens/s that memory bandwidth allows.
std::string graphReport(const ModelDesc &m, const GraphOptions &o, double bandwidthGBs);

} // namespace mcc
