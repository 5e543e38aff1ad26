// ModelDesc -> one MLIR module in the mcc dialect, one function per entry
// point: (tensor<T x i32> tokens, i32 pos) -> logits, T fixed per entry:
//   @decode     T = 1
//   @prefillN   T = N prompt tokens, the last one's logits (N = 64, 16, 4)
//   @score      T = 64, every token's logits (teacher forcing)
// Every shape is a constant; every weight is named with the layout the
// kernels read (compiler/pack decides it); the module attribute mcc.weights
// lists the weights in payload order.
#pragma once

#include "format/ModelDesc.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

namespace mcc {

// Loads the dialects the graph uses into ctx and builds one function per
// entry point of format/Abi.h. Throws mcc::Error for a model the graph cannot
// describe.
mlir::OwningOpRef<mlir::ModuleOp> buildGraph(mlir::MLIRContext &ctx, const ModelDesc &m);

} // namespace mcc
