#include "compiler/graph/GraphBuilder.h"
#include "compiler/dialect/Dialect.h"
#include "format/Abi.h"
#include "format/Error.h"
#include "compiler/pack/Repack.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

namespace mcc {

namespace {

class GraphBuilder {
public:
  GraphBuilder(MLIRContext &ctx, const ModelDesc &m) : m_(m), hp_(m.hp), b_(&ctx) {}

  void function(ModuleOp module, StringRef name, int64_t T, bool allRows) {
    auto tokensType = RankedTensorType::get({T}, b_.getI32Type());
    auto logitsType = act(allRows ? T : 1, hp_.vocab);
    b_.setInsertionPointToEnd(module.getBody());
    auto fn = b_.create<func::FuncOp>(loc(), name, b_.getFunctionType({tokensType, b_.getI32Type()}, {logitsType}));
    b_.setInsertionPointToStart(fn.addEntryBlock());
    Value tokens = fn.getArgument(0);
    pos_ = fn.getArgument(1);

    const Weight &embd = need("token_embd");
    Value x = b_.create<ir::EmbeddingOp>(loc(), act(T, hp_.hidden), tokens, embd.name, scheme(embd), hp_.vocab,
                                         hp_.hidden);
    for (int64_t l = 0; l < hp_.n_layers; ++l)
      x = layer(x, l);
    if (T > 1 && !allRows)
      x = b_.create<ir::LastRowOp>(loc(), act(1, hp_.hidden), x);
    x = norm(x, "output_norm", hp_.hidden);
    Value logits = matmul(x, hp_.tie_embeddings ? "token_embd" : "output");
    b_.create<func::ReturnOp>(loc(), logits);
  }

private:
  Location loc() { return b_.getUnknownLoc(); }
  RankedTensorType act(int64_t rows, int64_t cols) { return RankedTensorType::get({rows, cols}, b_.getF32Type()); }
  int64_t rowsOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(0); }

  const Weight &need(const std::string &name) {
    const Weight *w = m_.find(name);
    if (!w)
      throw Error(cat(m_.name, ": weight '", name, "' is missing"));
    return *w;
  }
  StringRef scheme(const Weight &w) { return formatName(packedFormat(w)); }

  Value norm(Value x, const std::string &weight, int64_t group) {
    return b_.create<ir::RmsNormOp>(loc(), x.getType(), x, need(weight).name, llvm::APFloat(hp_.rms_eps),
                                    group);
  }

  Value matmul(Value x, const std::string &name) {
    const Weight &w = need(name);
    int64_t rows[] = {w.rows()};
    auto op = b_.create<ir::QMatmulOp>(loc(), TypeRange{act(rowsOf(x), w.rows())}, ValueRange{x}, Value(),
                                       b_.getStrArrayAttr({w.name}), scheme(w), rows, w.cols(), "none",
                                       StringAttr(), FloatAttr());
    Value y = op.getResult(0);
    // Qwen2's Q/K/V biases, and any other linear's the checkpoint carries.
    if (const Weight *bias = m_.find(name + ".bias"))
      y = b_.create<ir::BiasAddOp>(loc(), y.getType(), y, bias->name);
    return y;
  }

  Value rope(Value x) {
    return b_.create<ir::RopeOp>(loc(), x.getType(), x, pos_, hp_.head_dim, hp_.rope_dim,
                                 llvm::APFloat(hp_.rope_theta),
                                 hp_.rope_style == RopeStyle::Neox ? "neox" : "interleaved");
  }

  Value layer(Value x, int64_t l) {
    std::string p = cat("blk.", l, ".");
    Value h = norm(x, p + "attn_norm", hp_.hidden);
    Value q = matmul(h, p + "attn_q"), k = matmul(h, p + "attn_k"), v = matmul(h, p + "attn_v");
    if (hp_.qk_norm) {
      q = norm(q, p + "attn_q_norm", hp_.head_dim);
      k = norm(k, p + "attn_k_norm", hp_.head_dim);
    }
    q = rope(q);
    k = rope(k);
    Value a = b_.create<ir::AttentionOp>(loc(), q.getType(), q, k, v, pos_, l, hp_.n_heads, hp_.n_kv_heads,
                                         hp_.head_dim, hp_.sliding_window, /*rope_style=*/nullptr,
                                         /*rope_dim=*/nullptr);
    x = b_.create<ir::AddOp>(loc(), x, matmul(a, p + "attn_output"));
    h = norm(x, p + "ffn_norm", hp_.hidden);
    Value g = matmul(h, p + "ffn_gate"), u = matmul(h, p + "ffn_up");
    Value s = b_.create<ir::SwiGluOp>(loc(), g, u);
    return b_.create<ir::AddOp>(loc(), x, matmul(s, p + "ffn_down"));
  }

  const ModelDesc &m_;
  const HyperParams &hp_;
  OpBuilder b_;
  Value pos_;
};

} // namespace

OwningOpRef<ModuleOp> buildGraph(MLIRContext &ctx, const ModelDesc &m) {
  ctx.loadDialect<ir::MccDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = ModuleOp::create(UnknownLoc::get(&ctx), StringRef(m.name));
  // The payload's weight order: code generation names weights by index.
  SmallVector<StringRef> names, permuted;
  for (const Weight &w : m.weights) {
    names.push_back(w.name);
    if (packedPermuted(w))
      permuted.push_back(w.name);
  }
  (*module)->setAttr("mcc.weights", mlir::Builder(&ctx).getStrArrayAttr(names));
  // Weights stored in act-order: their activations are gathered first.
  if (!permuted.empty())
    (*module)->setAttr("mcc.permuted", mlir::Builder(&ctx).getStrArrayAttr(permuted));
  GraphBuilder b(ctx, m);
  for (const abi::EntryPoint &e : abi::kEntryPoints)
    b.function(*module, e.name, e.rows, e.all_logits);
  return module;
}

} // namespace mcc
