// An RMSNorm whose every user is a matmul taking it as its only input moves
// into those matmuls' activation prologue: the normalized row is computed
// while the activations are prepared, never stored. Not folded: per-head
// norms (Qwen3's Q/K norm, group < row), or a norm with any other user
// (the final norm before a row slice, a residual operand).
#include "compiler/passes/PassUtil.h"
#include "compiler/passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace mcc {
namespace {

struct FoldIntoMatmuls : OpRewritePattern<ir::RmsNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ir::RmsNormOp norm, PatternRewriter &rw) const override {
    auto type = cast<RankedTensorType>(norm.getType());
    if (int64_t(norm.getGroup()) != type.getDimSize(1) || norm->use_empty())
      return failure();
    llvm::SmallVector<ir::QMatmulOp> users;
    for (OpOperand &use : norm->getUses()) {
      auto mm = dyn_cast<ir::QMatmulOp>(use.getOwner());
      if (!mm || mm.getPrologue() != "none" || mm.getInputs().size() != 1 || mm.getResidual() == norm.getResult())
        return failure();
      if (!llvm::is_contained(users, mm))
        users.push_back(mm);
    }
    for (ir::QMatmulOp mm : users) {
      QMatmulParts parts(mm);
      parts.inputs = {norm.getInput()};
      parts.prologue = "rms_norm";
      parts.norm = norm.getWeightAttr();
      parts.eps = norm.getEpsAttr();
      rw.setInsertionPoint(mm);
      rw.replaceOp(mm, parts.build(rw, mm).getResults());
    }
    rw.eraseOp(norm);
    return success();
  }
};

struct FoldRmsNormPass : PatternPass<FoldRmsNormPass, FoldIntoMatmuls> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FoldRmsNormPass)
  StringRef getArgument() const override { return "mcc-fold-rmsnorm"; }
  StringRef getDescription() const override { return "Fold RMSNorm into its matmuls' activation prologue"; }
};

} // namespace

std::unique_ptr<Pass> createFoldRmsNormPass() { return std::make_unique<FoldRmsNormPass>(); }

} // namespace mcc
