// The fused mcc graph -> the LLVM dialect: each func.func @NAME becomes
// llvm.func @mcc_NAME, a straight line of calls through the runtime's McApi
// table (format/Abi.h) with every shape, weight index and
// workspace offset a constant. The workspace plan reuses a buffer once its
// value is dead; its size lands in the module attribute mcc.workspace_floats.
//
// Weight names resolve through the module attribute `mcc.weights` (the
// payload's order), which the graph builder sets.
#pragma once

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <cstdint>
#include <memory>

namespace mcc {

// An elementwise op (a norm, a bias, RoPE, SwiGLU, an add, a matrix
// product's prologue) over fewer floats than this runs on the calling thread
// instead of in a parallel region: a region costs every thread a meeting
// (about a microsecond), more than such an op takes alone. Matrix products
// are always regions.
constexpr int64_t kSerialBelowFloats = 8192;

struct LowerOptions {
  int64_t serialBelow = kSerialBelowFloats;
};

mlir::LogicalResult lowerToLLVM(mlir::ModuleOp module, const LowerOptions &options = {});

// The same, as the pass `mcc-lower-to-llvm` (for mcc-opt), with the option
// serial-below=N.
std::unique_ptr<mlir::Pass> createLowerToLLVMPass();

} // namespace mcc
