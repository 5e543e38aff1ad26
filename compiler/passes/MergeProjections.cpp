// Matmuls that read the same input with the same prologue and the same weight
// layout become one matmul with a result per weight: Q/K/V after the
// attention norm, gate/up after the FFN norm. One pass over the activations
// then feeds every weight. Not merged: different inputs, different layouts
// (a Q6_K V beside Q4_K Q/K needs another kernel), or a residual epilogue.
#include "compiler/passes/PassUtil.h"
#include "compiler/passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace mcc {
namespace {

bool mergeable(ir::QMatmulOp a, ir::QMatmulOp b) {
  return a != b && a->getBlock() == b->getBlock() && !a.getResidual() && !b.getResidual() &&
         a.getInputs() == b.getInputs() && a.getScheme() == b.getScheme() && a.getCols() == b.getCols() &&
         a.getPrologue() == b.getPrologue() && a.getNormAttr() == b.getNormAttr() &&
         a.getEpsAttr() == b.getEpsAttr();
}

struct MergeSiblings : OpRewritePattern<ir::QMatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ir::QMatmulOp op, PatternRewriter &rw) const override {
    llvm::SmallVector<ir::QMatmulOp> group{op};
    for (Operation *user : op.getInputs().front().getUsers())
      if (auto other = dyn_cast<ir::QMatmulOp>(user); other && mergeable(op, other) && !llvm::is_contained(group, other))
        group.push_back(other);
    if (group.size() < 2)
      return failure();
    llvm::sort(group, [](ir::QMatmulOp a, ir::QMatmulOp b) { return a->isBeforeInBlock(b); });
    QMatmulParts parts(group.front());
    parts.weights.clear();
    parts.rows.clear();
    parts.resultTypes.clear();
    for (ir::QMatmulOp g : group) {
      llvm::append_range(parts.weights, g.getWeights().getValue());
      llvm::append_range(parts.rows, g.getRows());
      llvm::append_range(parts.resultTypes, g.getResultTypes());
    }
    rw.setInsertionPoint(group.front());
    ir::QMatmulOp merged = parts.build(rw, group.front());
    unsigned next = 0;
    for (ir::QMatmulOp g : group) {
      unsigned n = g.getNumResults(); // g is gone after replaceOp
      rw.replaceOp(g, merged.getResults().slice(next, n));
      next += n;
    }
    return success();
  }
};

struct MergeProjectionsPass : PatternPass<MergeProjectionsPass, MergeSiblings> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(MergeProjectionsPass)
  StringRef getArgument() const override { return "mcc-merge-projections"; }
  StringRef getDescription() const override { return "Merge matmuls that share an input into one"; }
};

} // namespace

std::unique_ptr<Pass> createMergeProjectionsPass() { return std::make_unique<MergeProjectionsPass>(); }

} // namespace mcc
