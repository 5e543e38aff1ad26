// silu(gate) * up feeding only the down projection becomes that matmul's
// prologue: the product is formed block by block as the kernel reads it.
// Not fused: a SwiGLU with another user, or a matmul that already has a
// prologue.
#include "compiler/passes/PassUtil.h"
#include "compiler/passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace mcc {
namespace {

struct IntoDownProjection : OpRewritePattern<ir::QMatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ir::QMatmulOp mm, PatternRewriter &rw) const override {
    if (mm.getPrologue() != "none" || mm.getInputs().size() != 1)
      return failure();
    auto glu = mm.getInputs().front().getDefiningOp<ir::SwiGluOp>();
    if (!glu || !glu->hasOneUse())
      return failure();
    QMatmulParts parts(mm);
    parts.inputs = {glu.getGate(), glu.getUp()};
    parts.prologue = "swiglu";
    rw.setInsertionPoint(mm);
    rw.replaceOp(mm, parts.build(rw, mm).getResults());
    rw.eraseOp(glu);
    return success();
  }
};

struct FuseSwiGluPass : PatternPass<FuseSwiGluPass, IntoDownProjection> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(FuseSwiGluPass)
  StringRef getArgument() const override { return "mcc-fuse-swiglu"; }
  StringRef getDescription() const override { return "Fuse SwiGLU into the down projection's prologue"; }
};

} // namespace

std::unique_ptr<Pass> createFuseSwiGluPass() { return std::make_unique<FuseSwiGluPass>(); }

} // namespace mcc
