// ModelDesc -> one MLIR module in the mcc dialect with two entry points,
//   func.func @decode(tensor<1xi32>, i32) -> tensor<1 x vocab x f32>
//   func.func @prefill(tensor<T xi32>, i32) -> tensor<1 x vocab x f32>
// (T = prompt tokens per pass), every shape a constant, every weight named
// with the layout the kernels read (compiler/pack decides it).
#pragma once

#include "compiler/import/ModelDesc.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

namespace mcc {

// Loads the dialects the graph uses into ctx. Throws mcc::Error for a model
// the graph cannot describe.
mlir::OwningOpRef<mlir::ModuleOp> buildGraph(mlir::MLIRContext &ctx, const ModelDesc &m, int64_t prefillTokens);

} // namespace mcc
