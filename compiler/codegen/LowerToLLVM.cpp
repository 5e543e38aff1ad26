#include "compiler/codegen/LowerToLLVM.h"
#include "compiler/dialect/Dialect.h"
#include "format/Abi.h"

#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/LLVMCommon/ConversionTarget.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlowOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <map>
#include <set>

using namespace mlir;

namespace mcc {

namespace {

using abi::Field;
using namespace abi;

int64_t floatsOf(Value v) { return cast<RankedTensorType>(v.getType()).getNumElements(); }
int64_t rowsOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(0); }
int64_t colsOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }

// First-fit offsets (in floats) in one workspace; a value's block is freed
// after its last user has been given its own results, so an op never
// writes where it reads.
class WorkspacePlan {
public:
  int64_t allocate(int64_t n) {
    n = (n + 15) / 16 * 16; // 64-byte aligned blocks
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->second >= n) {
        int64_t at = it->first, left = it->second - n;
        free_.erase(it);
        if (left)
          free_[at + n] = left;
        return at;
      }
    int64_t at = top_;
    top_ += n;
    return at;
  }
  void release(int64_t at, int64_t n) {
    n = (n + 15) / 16 * 16;
    free_[at] = n;
    // Merge with the neighbours.
    auto it = free_.find(at);
    if (auto next = std::next(it); next != free_.end() && at + n == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it != free_.begin())
      if (auto prev = std::prev(it); prev->first + prev->second == it->first) {
        prev->second += it->second;
        free_.erase(it);
      }
  }
  int64_t size() const { return top_; }

private:
  std::map<int64_t, int64_t> free_; // offset -> length
  int64_t top_ = 0;
};

class Lowering {
public:
  Lowering(ModuleOp module) : module_(module), b_(module.getContext()) {
    MLIRContext *ctx = module.getContext();
    ptr_ = LLVM::LLVMPointerType::get(ctx);
    i32_ = b_.getI32Type();
    i64_ = b_.getI64Type();
    api_ = LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(kFieldCount, ptr_));
    if (auto names = module->getAttrOfType<ArrayAttr>("mcc.weights"))
      for (auto [i, n] : llvm::enumerate(names))
        weightIndex_[cast<StringAttr>(n).getValue().str()] = int32_t(i);
    if (auto names = module->getAttrOfType<ArrayAttr>("mcc.permuted"))
      for (Attribute n : names)
        permuted_.insert(cast<StringAttr>(n).getValue().str());
  }

  LogicalResult run() {
    SmallVector<func::FuncOp> fns(module_.getOps<func::FuncOp>());
    int64_t workspace = 0;
    for (func::FuncOp fn : fns) {
      int64_t used = 0;
      if (failed(lower(fn, used)))
        return failure();
      workspace = std::max(workspace, used);
      fn.erase();
    }
    module_->setAttr("mcc.workspace_floats", b_.getI64IntegerAttr(workspace));
    return success();
  }

private:
  Value i32c(int64_t v) { return b_.create<LLVM::ConstantOp>(loc_, i32_, b_.getI32IntegerAttr(int32_t(v))); }
  Value i64c(int64_t v) { return b_.create<LLVM::ConstantOp>(loc_, i64_, b_.getI64IntegerAttr(v)); }
  Value null() { return b_.create<LLVM::ZeroOp>(loc_, ptr_); }
  // Where v lives in the workspace. Entry arguments other than the tokens
  // and the position have no place there: an error, not a crash.
  Value buffer(Value v) {
    auto it = offset_.find(v.getAsOpaquePointer());
    if (it != offset_.end())
      return at(it->second);
    if (!badOperand_)
      mlir::emitError(v.getLoc(), "is read as activations, but only op results have a place in the workspace "
                                  "(entry points take token ids and a position)");
    badOperand_ = true;
    return workspace_;
  }
  Value at(int64_t floats) {
    return b_.create<LLVM::GEPOp>(loc_, ptr_, b_.getF32Type(), workspace_, ArrayRef<LLVM::GEPArg>{floats});
  }

  // ---- Generated loops: scf.for over i64, arith/math on f32, llvm loads
  // and stores; lowerToLLVM converts them to the LLVM dialect.
  Value f32c(float v) { return b_.create<arith::ConstantOp>(loc_, b_.getF32FloatAttr(v)); }
  Value elem(Value base, Value i) { return b_.create<LLVM::GEPOp>(loc_, ptr_, b_.getF32Type(), base, ValueRange{i}); }
  Value load(Value base, Value i) { return b_.create<LLVM::LoadOp>(loc_, b_.getF32Type(), elem(base, i)); }
  void store(Value v, Value base, Value i) { b_.create<LLVM::StoreOp>(loc_, v, elem(base, i)); }
  Value add(Value a, Value b) { return b_.create<arith::AddIOp>(loc_, a, b); }
  Value mul(Value a, Value b) { return b_.create<arith::MulIOp>(loc_, a, b); }
  // for (i = lo; i < hi; ++i) body(i)
  void loop(Value lo, Value hi, function_ref<void(Value)> body) {
    auto f = b_.create<scf::ForOp>(loc_, lo, hi, i64c(1));
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPointToStart(f.getBody());
    body(f.getInductionVar());
  }
  // The static schedule: thread t of nt takes items [n t / nt, n (t + 1) / nt).
  std::pair<Value, Value> slice(int64_t n, Value t, Value nt) {
    auto edge = [&](Value k) { return b_.create<arith::DivSIOp>(loc_, mul(i64c(n), k), nt).getResult(); };
    return {edge(t), edge(add(t, i64c(1)))};
  }

  // Emits `void mcc_region_<k>(api, exec, workspace, tokens, pos, t, nt)`
  // with body(t, nt) (both i64), and the call that runs it on every thread.
  void parallel(function_ref<void(Value, Value)> body) {
    int k = regions_++;
    {
      OpBuilder::InsertionGuard g(b_);
      b_.setInsertionPointToEnd(module_.getBody());
      auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(b_.getContext()),
                                              {ptr_, ptr_, ptr_, ptr_, i32_, i32_, i32_});
      auto fn = b_.create<LLVM::LLVMFuncOp>(loc_, abi::kRegionPrefix + std::to_string(k), type);
      setAttributes(fn);
      Block *entry = fn.addEntryBlock(b_);
      b_.setInsertionPointToStart(entry);
      Value savedApi = apiArg_, savedExec = exec_, savedWs = workspace_, savedPos = pos_;
      apiArg_ = entry->getArgument(0), exec_ = entry->getArgument(1), workspace_ = entry->getArgument(2);
      pos_ = entry->getArgument(4);
      Value t = b_.create<arith::ExtSIOp>(loc_, i64_, entry->getArgument(5));
      Value nt = b_.create<arith::ExtSIOp>(loc_, i64_, entry->getArgument(6));
      body(t, nt);
      b_.create<LLVM::ReturnOp>(loc_, ValueRange{});
      apiArg_ = savedApi, exec_ = savedExec, workspace_ = savedWs, pos_ = savedPos;
    }
    call(kParallel, {exec_, i32c(k)});
  }

  void setAttributes(LLVM::LLVMFuncOp fn) {
    // nounwind: runtime calls never unwind through generated frames.
    // no-builtins: a copy loop must stay a loop, not become a call to a
    // memcpy the blob does not have.
    fn.setPassthroughAttr(b_.getArrayAttr({b_.getStringAttr("nounwind"), b_.getStringAttr("no-builtins")}));
  }

  // out = in / rms(in) * w over the groups [g0, g1) of `group` floats.
  void rmsNormLoop(Value in, Value out, Value w, Value g0, Value g1, int64_t group, float eps) {
    Type f64 = b_.getF64Type();
    auto reassoc = arith::FastMathFlagsAttr::get(b_.getContext(), arith::FastMathFlags::reassoc);
    loop(g0, g1, [&](Value g) {
      Value base = mul(g, i64c(group));
      // Summed in f64 as the runtime pass does; reassociated so it vectorizes.
      auto sum = b_.create<scf::ForOp>(loc_, i64c(0), i64c(group), i64c(1), ValueRange{b_.create<arith::ConstantOp>(loc_, b_.getF64FloatAttr(0.0)).getResult()},
                                       [&](OpBuilder &, Location, Value e, ValueRange acc) {
                                         Value x = b_.create<arith::ExtFOp>(loc_, f64, load(in, add(base, e)));
                                         Value sq = b_.create<arith::MulFOp>(loc_, x, x);
                                         Value next = b_.create<arith::AddFOp>(loc_, acc[0], sq, reassoc);
                                         b_.create<scf::YieldOp>(loc_, next);
                                       });
      Value mean = b_.create<arith::DivFOp>(loc_, sum.getResult(0),
                                            b_.create<arith::ConstantOp>(loc_, b_.getF64FloatAttr(double(group))));
      Value var = b_.create<arith::AddFOp>(loc_, mean, b_.create<arith::ConstantOp>(loc_, b_.getF64FloatAttr(double(eps))));
      Value inv = b_.create<arith::DivFOp>(loc_, b_.create<arith::ConstantOp>(loc_, b_.getF64FloatAttr(1.0)),
                                           b_.create<math::SqrtOp>(loc_, var));
      Value scale = b_.create<arith::TruncFOp>(loc_, b_.getF32Type(), inv);
      loop(i64c(0), i64c(group), [&](Value e) {
        Value i = add(base, e);
        Value y = b_.create<arith::MulFOp>(loc_, b_.create<arith::MulFOp>(loc_, load(in, i), scale), load(w, e));
        store(y, out, i);
      });
    });
  }

  // out = silu(gate) * up over [lo, hi).
  void swigluLoop(Value gate, Value up, Value out, Value lo, Value hi) {
    loop(lo, hi, [&](Value i) {
      Value g = load(gate, i);
      Value e = b_.create<math::ExpOp>(loc_, b_.create<arith::NegFOp>(loc_, g));
      Value silu = b_.create<arith::DivFOp>(loc_, g, b_.create<arith::AddFOp>(loc_, f32c(1.0f), e));
      store(b_.create<arith::MulFOp>(loc_, silu, load(up, i)), out, i);
    });
  }

  // Rotates head `head` of token row `row` of src (row stride srcCols) by
  // its position's angles; put(e, value) stores element e of the head.
  // Dimensions past rope_dim pass through.
  void ropeHeadLoop(Value src, int64_t srcCols, Value row, Value head, int64_t headDim, int64_t ropeDim,
                    bool interleaved, Value cosT, Value sinT, function_ref<void(Value, Value)> put) {
    int64_t half = ropeDim / 2;
    Value at0 = add(mul(row, i64c(srcCols)), mul(head, i64c(headDim)));
    Value p = add(b_.create<arith::ExtSIOp>(loc_, i64_, pos_), row);
    Value angle0 = mul(p, i64c(half));
    loop(i64c(0), i64c(half), [&](Value f) {
      Value e0 = interleaved ? mul(f, i64c(2)) : f;
      Value e1 = interleaved ? add(mul(f, i64c(2)), i64c(1)) : add(f, i64c(half));
      Value u = load(src, add(at0, e0)), w = load(src, add(at0, e1));
      Value c = load(cosT, add(angle0, f)), s = load(sinT, add(angle0, f));
      put(e0, b_.create<arith::SubFOp>(loc_, b_.create<arith::MulFOp>(loc_, u, c), b_.create<arith::MulFOp>(loc_, w, s)));
      put(e1, b_.create<arith::AddFOp>(loc_, b_.create<arith::MulFOp>(loc_, u, s), b_.create<arith::MulFOp>(loc_, w, c)));
    });
    loop(i64c(ropeDim), i64c(headDim), [&](Value e) { put(e, load(src, add(at0, e))); });
  }

  // Rotates every (row, head) of a rows x (heads * headDim) tensor into out
  // (same layout), this thread's share of the pairs.
  void ropeRows(Value in, Value out, int64_t rows, int64_t heads, int64_t headDim, int64_t ropeDim, bool interleaved,
                Value cosT, Value sinT, Value t, Value nt) {
    int64_t cols = heads * headDim;
    auto [u0, u1] = slice(rows * heads, t, nt);
    loop(u0, u1, [&](Value u) {
      Value row = b_.create<arith::DivSIOp>(loc_, u, i64c(heads));
      Value head = b_.create<arith::RemSIOp>(loc_, u, i64c(heads));
      Value at0 = add(mul(row, i64c(cols)), mul(head, i64c(headDim)));
      ropeHeadLoop(in, cols, row, head, headDim, ropeDim, interleaved, cosT, sinT,
                   [&](Value e, Value v) { store(v, out, add(at0, e)); });
    });
  }

  // The RoPE table's cos and sin ([position][rope_dim / 2]).
  std::pair<Value, Value> ropeTables() {
    return {callResult(kRopeTable, {exec_, i32c(0)}), callResult(kRopeTable, {exec_, i32c(1)})};
  }

  // Stores v as f16 (round to nearest even, as the runtime's cache writes).
  void storeHalf(Value v, Value base, Value i) {
    Value h = b_.create<arith::TruncFOp>(loc_, b_.getF16Type(), v);
    Value p = b_.create<LLVM::GEPOp>(loc_, ptr_, b_.getF16Type(), base, ValueRange{i});
    b_.create<LLVM::StoreOp>(loc_, h, p);
  }

  // A norm or bias weight's f32 values, asked for in the function being built.
  Value smallVector(int32_t weight) { return callResult(kSmallVector, {exec_, i32c(weight)}); }

  // The weight's index in the payload (mcc.weights).
  FailureOr<int32_t> weight(Operation *op, StringRef name) {
    auto it = weightIndex_.find(name.str());
    if (it == weightIndex_.end())
      return op->emitOpError("names weight '") << name << "', which is not in the module's mcc.weights";
    return it->second;
  }

  // api->field(args...), the pointer loaded at its index.
  void call(Field field, ArrayRef<Value> args) { callTyped(field, args, LLVM::LLVMVoidType::get(b_.getContext())); }
  Value callResult(Field field, ArrayRef<Value> args) { return callTyped(field, args, ptr_).getResult(); }
  LLVM::CallOp callTyped(Field field, ArrayRef<Value> args, Type result) {
    Value slot = b_.create<LLVM::GEPOp>(loc_, ptr_, api_, apiArg_, ArrayRef<LLVM::GEPArg>{0, int32_t(field)});
    Value fn = b_.create<LLVM::LoadOp>(loc_, ptr_, slot);
    SmallVector<Type> types;
    for (Value a : args)
      types.push_back(a.getType());
    auto type = LLVM::LLVMFunctionType::get(result, types);
    SmallVector<Value> operands{fn};
    operands.append(args.begin(), args.end());
    return b_.create<LLVM::CallOp>(loc_, type, operands);
  }

  LogicalResult lower(func::FuncOp fn, int64_t &workspaceFloats) {
    loc_ = fn.getLoc();
    b_.setInsertionPointToEnd(module_.getBody());
    auto type = LLVM::LLVMFunctionType::get(ptr_, {ptr_, ptr_, ptr_, ptr_, i32_});
    auto out = b_.create<LLVM::LLVMFuncOp>(loc_, (abi::kEntryPrefix + fn.getName()).str(), type);
    setAttributes(out);
    Block *entry = out.addEntryBlock(b_);
    b_.setInsertionPointToStart(entry);
    apiArg_ = entry->getArgument(0);
    exec_ = entry->getArgument(1);
    workspace_ = entry->getArgument(2);
    Value tokens = entry->getArgument(3), pos = entry->getArgument(4);
    pos_ = pos;

    // Liveness: the last op that reads each value.
    std::map<void *, Operation *> lastUse;
    fn.walk([&](Operation *op) {
      for (Value v : op->getOperands())
        lastUse[v.getAsOpaquePointer()] = op;
    });
    WorkspacePlan plan;
    plan_ = &plan;
    offset_.clear();
    for (Operation &op : fn.front()) {
      loc_ = op.getLoc();
      for (Value r : op.getResults())
        offset_[r.getAsOpaquePointer()] = plan.allocate(floatsOf(r));
      if (failed(lowerOp(op, tokens, pos)) || badOperand_)
        return failure();
      for (Value v : op.getOperands())
        if (lastUse[v.getAsOpaquePointer()] == &op && offset_.count(v.getAsOpaquePointer()) &&
            !isa<func::ReturnOp>(op)) {
          plan.release(offset_[v.getAsOpaquePointer()], floatsOf(v));
          offset_.erase(v.getAsOpaquePointer());
        }
    }
    workspaceFloats = plan.size();
    return success();
  }

  LogicalResult lowerOp(Operation &op, Value tokens, Value pos) {
    if (auto e = dyn_cast<ir::EmbeddingOp>(op)) {
      auto w = weight(&op, e.getWeight());
      if (failed(w))
        return failure();
      call(kEmbedding, {exec_, i32c(*w), tokens, i64c(rowsOf(e)), i64c(colsOf(e)), buffer(e)});
    } else if (auto n = dyn_cast<ir::RmsNormOp>(op)) {
      auto w = weight(&op, n.getWeight());
      if (failed(w))
        return failure();
      int64_t group = n.getGroup(), groups = floatsOf(n) / group;
      float eps = n.getEps().convertToFloat();
      parallel([&](Value t, Value nt) {
        auto [g0, g1] = slice(groups, t, nt);
        rmsNormLoop(buffer(n.getInput()), buffer(n), smallVector(*w), g0, g1, group, eps);
      });
    } else if (auto mm = dyn_cast<ir::QMatmulOp>(op)) {
      return lowerMatmul(mm);
    } else if (auto ba = dyn_cast<ir::BiasAddOp>(op)) {
      auto w = weight(&op, ba.getWeight());
      if (failed(w))
        return failure();
      int64_t rows = rowsOf(ba), cols = colsOf(ba);
      // Columns split over the threads: every row, so one token splits too.
      parallel([&](Value t, Value nt) {
        auto [c0, c1] = slice(cols, t, nt);
        Value in = buffer(ba.getInput()), out = buffer(ba), bias = smallVector(*w);
        loop(i64c(0), i64c(rows), [&](Value r) {
          loop(c0, c1, [&](Value c) {
            Value i = add(mul(r, i64c(cols)), c);
            store(b_.create<arith::AddFOp>(loc_, load(in, i), load(bias, c)), out, i);
          });
        });
      });
    } else if (auto r = dyn_cast<ir::RopeOp>(op)) {
      // Every (row, head) pair shared out.
      int64_t rows = rowsOf(r), cols = colsOf(r), hd = r.getHeadDim(), heads = cols / hd;
      bool inter = r.getStyle() != "neox";
      parallel([&](Value t, Value nt) {
        auto [cosT, sinT] = ropeTables();
        ropeRows(buffer(r.getInput()), buffer(r), rows, heads, hd, r.getRopeDim(), inter, cosT, sinT, t, nt);
      });
    } else if (auto a = dyn_cast<ir::AttentionOp>(op)) {
      // Generated before the runtime's attention: this step's keys and
      // values go into the layer's f16 cache rows at pos..., and, when RoPE
      // was fused here (mcc-fuse-rope), q and k are rotated on the way (q
      // into a buffer of its own). Every (row, head) pair is shared out.
      int64_t rows = rowsOf(a), heads = a.getHeads(), kvHeads = a.getKvHeads(), hd = a.getHeadDim();
      int64_t qCols = heads * hd, kvCols = kvHeads * hd, layer = a.getLayer();
      bool rope = bool(a.getRopeStyle());
      bool inter = rope && *a.getRopeStyle() != "neox";
      int64_t ropeDim = a.getRopeDim().value_or(0);
      std::optional<int64_t> rotated;
      if (rope)
        rotated = plan_->allocate(rows * qCols);
      parallel([&](Value t, Value nt) {
        Value cosT, sinT;
        if (rope) {
          std::tie(cosT, sinT) = ropeTables();
          ropeRows(buffer(a.getQ()), at(*rotated), rows, heads, hd, ropeDim, inter, cosT, sinT, t, nt);
        }
        Value kIn = buffer(a.getK()), vIn = buffer(a.getV());
        Value kCache = callTyped(kKvCache, {exec_, i32c(layer), i32c(0)}, ptr_).getResult();
        Value vCache = callTyped(kKvCache, {exec_, i32c(layer), i32c(1)}, ptr_).getResult();
        auto [w0, w1] = slice(rows * kvHeads, t, nt);
        loop(w0, w1, [&](Value u) {
          Value row = b_.create<arith::DivSIOp>(loc_, u, i64c(kvHeads));
          Value head = b_.create<arith::RemSIOp>(loc_, u, i64c(kvHeads));
          Value src = add(mul(row, i64c(kvCols)), mul(head, i64c(hd)));
          Value p = add(b_.create<arith::ExtSIOp>(loc_, i64_, pos_), row); // this token's position
          Value dst = add(mul(p, i64c(kvCols)), mul(head, i64c(hd)));
          if (rope)
            ropeHeadLoop(kIn, kvCols, row, head, hd, ropeDim, inter, cosT, sinT,
                         [&](Value e, Value val) { storeHalf(val, kCache, add(dst, e)); });
          else
            loop(i64c(0), i64c(hd), [&](Value e) { storeHalf(load(kIn, add(src, e)), kCache, add(dst, e)); });
          loop(i64c(0), i64c(hd), [&](Value e) { storeHalf(load(vIn, add(src, e)), vCache, add(dst, e)); });
        });
      });
      call(kAttend, {exec_, i32c(layer), pos, i64c(rows), i64c(heads), i64c(kvHeads), i64c(hd), i64c(a.getWindow()),
                     rope ? at(*rotated) : buffer(a.getQ()), buffer(a)});
      if (rotated)
        plan_->release(*rotated, rows * qCols);
    } else if (auto s = dyn_cast<ir::SwiGluOp>(op)) {
      parallel([&](Value t, Value nt) {
        auto [lo, hi] = slice(floatsOf(s), t, nt);
        swigluLoop(buffer(s.getGate()), buffer(s.getUp()), buffer(s), lo, hi);
      });
    } else if (auto ad = dyn_cast<ir::AddOp>(op)) {
      parallel([&](Value t, Value nt) {
        auto [lo, hi] = slice(floatsOf(ad), t, nt);
        Value a = buffer(ad.getLhs()), b = buffer(ad.getRhs()), out = buffer(ad);
        loop(lo, hi, [&](Value i) { store(b_.create<arith::AddFOp>(loc_, load(a, i), load(b, i)), out, i); });
      });
    } else if (auto lr = dyn_cast<ir::LastRowOp>(op)) {
      // A copy too small to share out.
      int64_t cols = colsOf(lr), from = (rowsOf(lr.getInput()) - 1) * cols;
      Value in = buffer(lr.getInput()), out = buffer(lr);
      loop(i64c(0), i64c(cols), [&](Value i) { store(load(in, add(i, i64c(from))), out, i); });
    } else if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      if (ret.getNumOperands() != 1)
        return op.emitOpError("must return the logits alone");
      b_.create<LLVM::ReturnOp>(loc_, buffer(ret.getOperand(0)));
    } else {
      return op.emitOpError("has no lowering to the runtime ABI");
    }
    return success();
  }

  LogicalResult lowerMatmul(ir::QMatmulOp mm) {
    auto names = mm.getWeights();
    // The fused prologue is a generated region writing the prepared
    // activations to a buffer of their own (live for this op only), which
    // every weight's product then reads.
    Value in0 = mm.getInputs()[0];
    int64_t rows = rowsOf(in0), cols = mm.getCols();
    std::optional<int64_t> prepared;
    if (mm.getPrologue() == "rms_norm") {
      auto w = weight(mm, *mm.getNorm());
      if (failed(w))
        return failure();
      prepared = plan_->allocate(rows * cols);
      float eps = mm.getEpsAttr().getValueAsDouble();
      parallel([&](Value t, Value nt) {
        auto [r0, r1] = slice(rows, t, nt);
        rmsNormLoop(buffer(in0), at(*prepared), smallVector(*w), r0, r1, cols, eps);
      });
    } else if (mm.getPrologue() == "swiglu") {
      prepared = plan_->allocate(rows * cols);
      parallel([&](Value t, Value nt) {
        auto [lo, hi] = slice(rows * cols, t, nt);
        swigluLoop(buffer(in0), buffer(mm.getInputs()[1]), at(*prepared), lo, hi);
      });
    }
    int64_t total = 0;
    SmallVector<int32_t> ids;
    SmallVector<int64_t> ns;
    for (auto [i, name] : llvm::enumerate(names)) {
      auto w = weight(mm, cast<StringAttr>(name).getValue());
      if (failed(w))
        return failure();
      ids.push_back(*w);
      ns.push_back(colsOf(mm.getResult(i))); // the weight's rows: the result's columns
      total += ns.back();
    }
    auto input = [&]() { return prepared ? at(*prepared) : buffer(in0); };

    // Act-order weights read the activations in their stored column order:
    // a region gathers them (columns shared out) into a buffer per weight.
    SmallVector<std::optional<int64_t>> gathered(names.size());
    for (size_t i = 0; i < names.size(); ++i) {
      if (!permuted_.count(cast<StringAttr>(names[i]).getValue().str()))
        continue;
      gathered[i] = plan_->allocate(rows * cols);
      parallel([&](Value t, Value nt) {
        auto [c0, c1] = slice(cols, t, nt);
        Value x = input(), g = at(*gathered[i]);
        Value perm = callResult(kWeightPerm, {exec_, i32c(ids[i])});
        loop(i64c(0), i64c(rows), [&](Value r) {
          Value row = mul(r, i64c(cols));
          loop(c0, c1, [&](Value c) {
            Value p = b_.create<LLVM::GEPOp>(loc_, ptr_, i32_, perm, ValueRange{c});
            Value src = b_.create<arith::ExtSIOp>(loc_, i64_, b_.create<LLVM::LoadOp>(loc_, i32_, p));
            store(load(x, add(row, src)), g, add(row, c));
          });
        });
      });
    }

    // The static schedule of the product: the rows of all its weights dealt
    // out as one range, in multiples of 4 (whole decode tiles), so the
    // threads meet once for the lot.
    parallel([&](Value t, Value nt) {
      Value R = i64c(total);
      auto edge = [&](Value k) {
        Value share = b_.create<arith::DivSIOp>(loc_, mul(R, k), nt);
        Value up = mul(b_.create<arith::DivSIOp>(loc_, add(share, i64c(3)), i64c(4)), i64c(4));
        return b_.create<arith::MinSIOp>(loc_, up, R).getResult();
      };
      Value first = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::eq, t, i64c(0));
      Value next = add(t, i64c(1));
      Value last = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::eq, next, nt);
      Value lo = b_.create<arith::SelectOp>(loc_, first, i64c(0), edge(t));
      Value hi = b_.create<arith::SelectOp>(loc_, last, R, edge(next));
      int64_t base = 0;
      for (size_t i = 0; i < names.size(); base += ns[i], ++i) {
        Value N = i64c(ns[i]), zero = i64c(0);
        Value r0 = b_.create<arith::MinSIOp>(
            loc_, b_.create<arith::MaxSIOp>(loc_, b_.create<arith::SubIOp>(loc_, lo, i64c(base)), zero), N);
        Value r1 = b_.create<arith::MaxSIOp>(
            loc_, b_.create<arith::MinSIOp>(loc_, b_.create<arith::SubIOp>(loc_, hi, i64c(base)), N), r0);
        Value x = gathered[i] ? at(*gathered[i]) : input();
        Value res = mm.getResidual() ? buffer(mm.getResidual()) : null();
        call(kMatmulRows, {exec_, i32c(ids[i]), x, buffer(mm.getResult(i)), i64c(rows), r0, r1, res});
      }
    });
    for (size_t i = 0; i < names.size(); ++i)
      if (gathered[i])
        plan_->release(*gathered[i], rows * cols);
    if (prepared)
      plan_->release(*prepared, rows * cols);
    return success();
  }

  ModuleOp module_;
  OpBuilder b_;
  Location loc_ = UnknownLoc::get(module_.getContext());
  Type ptr_, i32_, i64_;
  LLVM::LLVMStructType api_;
  Value apiArg_, exec_, workspace_, pos_;
  std::map<std::string, int32_t> weightIndex_;
  std::map<void *, int64_t> offset_;
  std::set<std::string> permuted_; // weights stored in act-order
  WorkspacePlan *plan_ = nullptr;
  int regions_ = 0;
  bool badOperand_ = false;
};

struct LowerToLLVMPass : PassWrapper<LowerToLLVMPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LowerToLLVMPass)
  StringRef getArgument() const override { return "mcc-lower-to-llvm"; }
  StringRef getDescription() const override { return "Lower the fused graph to calls through the runtime ABI"; }
  void getDependentDialects(DialectRegistry &r) const override { r.insert<LLVM::LLVMDialect>(); }
  void runOnOperation() override {
    if (failed(lowerToLLVM(getOperation())))
      signalPassFailure();
  }
};

} // namespace

LogicalResult lowerToLLVM(ModuleOp module) {
  MLIRContext *ctx = module.getContext();
  ctx->loadDialect<LLVM::LLVMDialect, arith::ArithDialect, math::MathDialect, scf::SCFDialect, cf::ControlFlowDialect>();
  if (failed(Lowering(module).run()))
    return failure();
  // The generated loops: exp as a polynomial (no libm in the blob), loops
  // to branches, then arith/math/cf to the LLVM dialect.
  {
    RewritePatternSet patterns(ctx);
    populateMathPolynomialApproximationPatterns(patterns);
    if (failed(applyPatternsAndFoldGreedily(module, std::move(patterns))))
      return failure();
  }
  {
    RewritePatternSet patterns(ctx);
    populateSCFToControlFlowConversionPatterns(patterns);
    ConversionTarget target(*ctx);
    target.addIllegalDialect<scf::SCFDialect>();
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return failure();
  }
  LLVMTypeConverter types(ctx);
  RewritePatternSet patterns(ctx);
  arith::populateArithToLLVMConversionPatterns(types, patterns);
  populateMathToLLVMConversionPatterns(types, patterns);
  cf::populateControlFlowToLLVMConversionPatterns(types, patterns);
  LLVMConversionTarget target(*ctx);
  return applyPartialConversion(module, target, std::move(patterns));
}

std::unique_ptr<Pass> createLowerToLLVMPass() { return std::make_unique<LowerToLLVMPass>(); }

} // namespace mcc
