// x + W·h, where the matmul's one result has no other user, becomes the
// matmul's epilogue: each output row is added to the residual stream as it
// is produced. Not fused: a matmul result used elsewhere too, a matmul with
// several weights, or one that already has a residual.
#include "compiler/passes/PassUtil.h"
#include "compiler/passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace mcc {
namespace {

struct IntoEpilogue : OpRewritePattern<ir::AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ir::AddOp add, PatternRewriter &rw) const override {
    for (auto [product, stream] : {std::pair{add.getLhs(), add.getRhs()}, {add.getRhs(), add.getLhs()}}) {
      auto mm = product.getDefiningOp<ir::QMatmulOp>();
      if (!mm || mm.getNumResults() != 1 || mm.getResidual() || !product.hasOneUse() || stream == product)
        continue;
      QMatmulParts parts(mm);
      parts.residual = stream;
      rw.setInsertionPoint(add);
      rw.replaceOp(add, parts.build(rw, mm).getResults());
      rw.eraseOp(mm);
      return success();
    }
    return failure();
  }
};

struct FuseResidualPass : PatternPass<FuseResidualPass, IntoEpilogue> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FuseResidualPass)
  StringRef getArgument() const override { return "mcc-fuse-residual"; }
  StringRef getDescription() const override { return "Fuse residual adds into matmul epilogues"; }
};

} // namespace

std::unique_ptr<Pass> createFuseResidualPass() { return std::make_unique<FuseResidualPass>(); }

} // namespace mcc
