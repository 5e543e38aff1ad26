// What the fusion patterns share: rebuilding a qmatmul with one thing changed.
#pragma once

#include "compiler/dialect/Dialect.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mcc {

struct QMatmulParts {
  llvm::SmallVector<mlir::Value> inputs;
  mlir::Value residual;
  llvm::SmallVector<mlir::Attribute> weights;
  llvm::SmallVector<int64_t> rows;
  llvm::SmallVector<mlir::Type> resultTypes;
  std::string prologue;
  mlir::StringAttr norm;
  mlir::FloatAttr eps;

  explicit QMatmulParts(ir::QMatmulOp op)
      : inputs(op.getInputs()), residual(op.getResidual()), weights(op.getWeights().getValue()),
        rows(op.getRows()), resultTypes(op.getResultTypes()), prologue(op.getPrologue().str()),
        norm(op.getNormAttr()), eps(op.getEpsAttr()) {}

  // The same scheme and column count as `like`.
  ir::QMatmulOp build(mlir::PatternRewriter &rw, ir::QMatmulOp like) const {
    return rw.create<ir::QMatmulOp>(like.getLoc(), resultTypes, inputs, residual, rw.getArrayAttr(weights),
                                    like.getScheme(), rows, like.getCols(), prologue, norm, eps);
  }
};

// A pass over each function that applies one pattern set to a fixed point.
template <class Derived, class... Patterns>
struct PatternPass : mlir::PassWrapper<Derived, mlir::OperationPass<>> {
  void runOnOperation() override {
    mlir::RewritePatternSet patterns(&this->getContext());
    patterns.add<Patterns...>(&this->getContext());
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(this->getOperation(), std::move(patterns))))
      this->signalPassFailure();
  }
};

} // namespace mcc
