// RoPE on Q and K feeding only the attention moves into it: K is rotated as
// it is written to the KV cache, Q as it is read, so the rotated copies are
// never stored. Not fused: a rotated value with another user, rotations that
// differ (style, dims, position), or a head size other than attention's.
#include "compiler/passes/PassUtil.h"
#include "compiler/passes/Passes.h"

using namespace mlir;

namespace mcc {
namespace {

struct IntoAttention : OpRewritePattern<ir::AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ir::AttentionOp att, PatternRewriter &rw) const override {
    if (att.getRopeStyle())
      return failure();
    auto rq = att.getQ().getDefiningOp<ir::RopeOp>(), rk = att.getK().getDefiningOp<ir::RopeOp>();
    if (!rq || !rk || !rq->hasOneUse() || !rk->hasOneUse() || rq.getPos() != att.getPos() ||
        rk.getPos() != att.getPos() || rq.getStyle() != rk.getStyle() || rq.getRopeDim() != rk.getRopeDim() ||
        rq.getHeadDim() != att.getHeadDim() || rk.getHeadDim() != att.getHeadDim())
      return failure();
    rw.setInsertionPoint(att);
    auto fused = rw.create<ir::AttentionOp>(att.getLoc(), att.getType(), rq.getInput(), rk.getInput(), att.getV(),
                                            att.getPos(), att.getLayerAttr(), att.getHeadsAttr(), att.getKvHeadsAttr(),
                                            att.getHeadDimAttr(), att.getWindowAttr(), rq.getStyleAttr(),
                                            rq.getRopeDimAttr());
    rw.replaceOp(att, fused.getResult());
    rw.eraseOp(rq);
    rw.eraseOp(rk);
    return success();
  }
};

struct FuseRopePass : PatternPass<FuseRopePass, IntoAttention> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FuseRopePass)
  StringRef getArgument() const override { return "mcc-fuse-rope"; }
  StringRef getDescription() const override { return "Fuse RoPE into attention's KV-cache write and query read"; }
};

} // namespace

std::unique_ptr<Pass> createFuseRopePass() { return std::make_unique<FuseRopePass>(); }

} // namespace mcc
