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

#include <memory>

namespace mcc {

mlir::LogicalResult lowerToLLVM(mlir::ModuleOp module);

// The same, as the pass `mcc-lower-to-llvm` (for mcc-opt).
std::unique_ptr<mlir::Pass> createLowerToLLVMPass();

} // namespace mcc
