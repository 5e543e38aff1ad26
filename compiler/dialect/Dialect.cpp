// The mcc dialect's registration and op verifiers: every shape is static and
// must agree with the weights' recorded shapes.
#include "compiler/dialect/Dialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;

#include "compiler/dialect/MccOpsDialect.cpp.inc"

#define GET_OP_CLASSES
#include "compiler/dialect/MccOps.cpp.inc"

namespace mcc::ir {

void MccDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "compiler/dialect/MccOps.cpp.inc"
      >();
}

namespace {
int64_t rowsOf(Type t) { return cast<RankedTensorType>(t).getDimSize(0); }
int64_t colsOf(Type t) { return cast<RankedTensorType>(t).getDimSize(1); }
bool isStatic(Type t) { return cast<RankedTensorType>(t).hasStaticShape(); }
} // namespace

LogicalResult EmbeddingOp::verify() {
  auto tokens = cast<RankedTensorType>(getTokens().getType());
  if (!tokens.hasStaticShape() || !isStatic(getType()))
    return emitOpError("needs static shapes");
  if (rowsOf(getType()) != tokens.getDimSize(0))
    return emitOpError("has ") << rowsOf(getType()) << " rows for " << tokens.getDimSize(0) << " tokens";
  if (colsOf(getType()) != int64_t(getHidden()))
    return emitOpError("result has ") << colsOf(getType()) << " columns, the table " << getHidden();
  return success();
}

LogicalResult RmsNormOp::verify() {
  if (!isStatic(getType()))
    return emitOpError("needs static shapes");
  if (getGroup() <= 0 || colsOf(getType()) % getGroup() != 0)
    return emitOpError("group ") << getGroup() << " does not divide " << colsOf(getType()) << " columns";
  return success();
}

LogicalResult QMatmulOp::verify() {
  auto weights = getWeights();
  ArrayRef<int64_t> rows = getRows();
  if (weights.empty() || weights.size() != rows.size() || weights.size() != getResults().size())
    return emitOpError("needs one name, one row count and one result per weight (")
           << weights.size() << ", " << rows.size() << ", " << getResults().size() << ")";
  StringRef pro = getPrologue();
  size_t wantInputs = pro == "swiglu" ? 2 : 1;
  if (pro != "none" && pro != "rms_norm" && pro != "swiglu")
    return emitOpError("unknown prologue '") << pro << "'";
  if (getInputs().size() != wantInputs)
    return emitOpError("prologue '") << pro << "' takes " << wantInputs << " input(s), not " << getInputs().size();
  if ((pro == "rms_norm") != (getNorm().has_value() && getEps().has_value()))
    return emitOpError("has norm/eps attributes exactly when its prologue is rms_norm");
  Type in = getInputs().front().getType();
  for (Value v : getInputs())
    if (v.getType() != in)
      return emitOpError("inputs differ in type");
  if (!isStatic(in))
    return emitOpError("needs static shapes");
  if (colsOf(in) != int64_t(getCols()))
    return emitOpError("input has ") << colsOf(in) << " columns, the weights " << getCols();
  for (auto [i, r] : llvm::enumerate(getResults())) {
    if (rowsOf(r.getType()) != rowsOf(in) || colsOf(r.getType()) != rows[i])
      return emitOpError("result ") << i << " must be " << rowsOf(in) << "x" << rows[i];
  }
  if (getResidual()) {
    if (getResults().size() != 1)
      return emitOpError("a residual needs exactly one weight");
    if (getResidual().getType() != getResults().front().getType())
      return emitOpError("residual type differs from the result's");
  }
  return success();
}

LogicalResult RopeOp::verify() {
  if (getHeadDim() <= 0 || colsOf(getType()) % getHeadDim() != 0)
    return emitOpError("head_dim ") << getHeadDim() << " does not divide " << colsOf(getType()) << " columns";
  if (getRopeDim() <= 0 || getRopeDim() > getHeadDim() || getRopeDim() % 2)
    return emitOpError("rope_dim ") << getRopeDim() << " must be even and at most head_dim";
  if (getStyle() != "neox" && getStyle() != "interleaved")
    return emitOpError("unknown style '") << getStyle() << "'";
  return success();
}

LogicalResult AttentionOp::verify() {
  int64_t hd = getHeadDim(), h = getHeads(), kvh = getKvHeads();
  if (hd <= 0 || h <= 0 || kvh <= 0 || h % kvh)
    return emitOpError("heads ") << h << " must be a multiple of kv_heads " << kvh;
  Type q = getQ().getType(), k = getK().getType(), v = getV().getType();
  if (colsOf(q) != h * hd || colsOf(k) != kvh * hd || k != v)
    return emitOpError("q must have heads*head_dim columns, k and v kv_heads*head_dim");
  if (rowsOf(q) != rowsOf(k) || getType() != q)
    return emitOpError("q, k, v and the result must have one row per token");
  if (getRopeStyle().has_value() != getRopeDim().has_value())
    return emitOpError("has rope_style and rope_dim together or not at all");
  if (auto style = getRopeStyle(); style && *style != "neox" && *style != "interleaved")
    return emitOpError("unknown rope_style '") << *style << "'";
  if (auto rd = getRopeDim(); rd && (*rd <= 0 || int64_t(*rd) > hd || *rd % 2))
    return emitOpError("rope_dim ") << *rd << " must be even and at most head_dim";
  return success();
}

LogicalResult LastRowOp::verify() {
  if (rowsOf(getType()) != 1 || colsOf(getType()) != colsOf(getInput().getType()))
    return emitOpError("result must be one row of the input's width");
  return success();
}

} // namespace mcc::ir
