// The fused graph's functions -> LLVM-dialect entry points and parallel
// regions (still holding scf/arith/math loops, which lowerToLLVM converts).
#pragma once

#include "mlir/IR/BuiltinOps.h"

#include <cstdint>

namespace mcc::codegen {

// Replaces every func.func of the module; sets mcc.workspace_floats.
// Elementwise ops over fewer than serialBelow floats run on the calling
// thread (LowerToLLVM.h).
mlir::LogicalResult lowerGraphToCalls(mlir::ModuleOp module, int64_t serialBelow);

} // namespace mcc::codegen
