// The fused graph's functions -> LLVM-dialect entry points and parallel
// regions (still holding scf/arith/math loops, which lowerToLLVM converts).
#pragma once

#include "mlir/IR/BuiltinOps.h"

namespace mcc::codegen {

// Replaces every func.func of the module; sets mcc.workspace_floats.
mlir::LogicalResult lowerGraphToCalls(mlir::ModuleOp module);

} // namespace mcc::codegen
