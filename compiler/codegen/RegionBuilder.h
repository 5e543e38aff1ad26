// What the lowering of each op builds with: constants, loads and stores
// into the workspace, loops (scf.for over i64, arith/math on f32), the static
// schedule of a thread's share, calls through the McApi table, and the
// outlining of a parallel region (mcc_region_<k>, run on every thread).
// compiler/codegen/OpLowerings.cpp derives the per-op lowerings from it.
#pragma once

#include "compiler/codegen/WorkspacePlan.h"
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

namespace mcc::codegen {

using namespace mlir;
using abi::Field;
using namespace abi;

inline int64_t floatsOf(Value v) { return cast<RankedTensorType>(v.getType()).getNumElements(); }
inline int64_t rowsOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(0); }
inline int64_t colsOf(Value v) { return cast<RankedTensorType>(v.getType()).getDimSize(1); }

class RegionBuilder {
public:
  RegionBuilder(ModuleOp module, int64_t serialBelow)
      : module_(module), b_(module.getContext()), serialBelow_(serialBelow) {
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

protected:
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

  // An elementwise op's body over `floats` floats: a region when there is
  // enough work to share, else inline on the calling thread as thread 0 of 1.
  void shared(int64_t floats, function_ref<void(Value, Value)> body) {
    if (floats >= serialBelow_)
      return parallel(body);
    body(i64c(0), i64c(1));
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

  ModuleOp module_;
  OpBuilder b_;
  Location loc_ = UnknownLoc::get(module_.getContext());
  Type ptr_, i32_, i64_;
  LLVM::LLVMStructType api_;
  Value apiArg_, exec_, workspace_, tokens_, pos_;
  std::map<std::string, int32_t> weightIndex_;
  std::map<void *, int64_t> offset_;
  std::set<std::string> permuted_; // weights stored in act-order
  WorkspacePlan *plan_ = nullptr;
  int64_t serialBelow_;
  int regions_ = 0;
  bool badOperand_ = false;
};

} // namespace mcc::codegen
