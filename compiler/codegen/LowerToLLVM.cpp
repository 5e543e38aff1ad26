#include "compiler/codegen/LowerToLLVM.h"
#include "compiler/dialect/Dialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"

#include <map>

using namespace mlir;

namespace mcc {

namespace {

// McApi's fields, in order (GeneratedAbi.h).
enum ApiField { kEmbedding, kRmsNorm, kQMatmul, kBiasAdd, kRope, kAttention, kSwiGlu, kAdd, kLastRow, kApiFields };

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
    api_ = LLVM::LLVMStructType::getLiteral(ctx, SmallVector<Type>(kApiFields, ptr_));
    if (auto names = module->getAttrOfType<ArrayAttr>("mcc.weights"))
      for (auto [i, n] : llvm::enumerate(names))
        weightIndex_[cast<StringAttr>(n).getValue().str()] = int32_t(i);
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
  Value bits(FloatAttr f) { return i32c(int64_t(f.getValue().bitcastToAPInt().getZExtValue())); }
  Value null() { return b_.create<LLVM::ZeroOp>(loc_, ptr_); }
  Value buffer(Value v) {
    int64_t at = offset_.at(v.getAsOpaquePointer());
    return b_.create<LLVM::GEPOp>(loc_, ptr_, b_.getF32Type(), workspace_, ArrayRef<LLVM::GEPArg>{at});
  }

  FailureOr<Value> weight(Operation *op, StringRef name) {
    auto it = weightIndex_.find(name.str());
    if (it == weightIndex_.end())
      return op->emitOpError("names weight '") << name << "', which is not in the module's mcc.weights";
    return i32c(it->second);
  }

  // api->field(args...), the pointer loaded at its index.
  void call(ApiField field, ArrayRef<Value> args) {
    Value slot = b_.create<LLVM::GEPOp>(loc_, ptr_, api_, apiArg_, ArrayRef<LLVM::GEPArg>{0, int32_t(field)});
    Value fn = b_.create<LLVM::LoadOp>(loc_, ptr_, slot);
    SmallVector<Type> types;
    for (Value a : args)
      types.push_back(a.getType());
    auto type = LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(b_.getContext()), types);
    SmallVector<Value> operands{fn};
    operands.append(args.begin(), args.end());
    b_.create<LLVM::CallOp>(loc_, type, operands);
  }

  LogicalResult lower(func::FuncOp fn, int64_t &workspaceFloats) {
    loc_ = fn.getLoc();
    b_.setInsertionPointToEnd(module_.getBody());
    auto type = LLVM::LLVMFunctionType::get(ptr_, {ptr_, ptr_, ptr_, ptr_, i32_});
    auto out = b_.create<LLVM::LLVMFuncOp>(loc_, ("mcc_" + fn.getName()).str(), type);
    // Runtime calls never unwind through generated frames.
    out.setPassthroughAttr(b_.getArrayAttr({b_.getStringAttr("nounwind")}));
    Block *entry = out.addEntryBlock(b_);
    b_.setInsertionPointToStart(entry);
    apiArg_ = entry->getArgument(0);
    exec_ = entry->getArgument(1);
    workspace_ = entry->getArgument(2);
    Value tokens = entry->getArgument(3), pos = entry->getArgument(4);

    // Liveness: the last op that reads each value.
    std::map<void *, Operation *> lastUse;
    fn.walk([&](Operation *op) {
      for (Value v : op->getOperands())
        lastUse[v.getAsOpaquePointer()] = op;
    });
    WorkspacePlan plan;
    offset_.clear();
    for (Operation &op : fn.front()) {
      loc_ = op.getLoc();
      for (Value r : op.getResults())
        offset_[r.getAsOpaquePointer()] = plan.allocate(floatsOf(r));
      if (failed(lowerOp(op, tokens, pos)))
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
      call(kEmbedding, {exec_, *w, tokens, i64c(rowsOf(e)), i64c(colsOf(e)), buffer(e)});
    } else if (auto n = dyn_cast<ir::RmsNormOp>(op)) {
      auto w = weight(&op, n.getWeight());
      if (failed(w))
        return failure();
      call(kRmsNorm, {exec_, *w, bits(n.getEpsAttr()), i64c(n.getGroup()), i64c(rowsOf(n)), i64c(colsOf(n)),
                      buffer(n.getInput()), buffer(n)});
    } else if (auto mm = dyn_cast<ir::QMatmulOp>(op)) {
      return lowerMatmul(mm);
    } else if (auto ba = dyn_cast<ir::BiasAddOp>(op)) {
      auto w = weight(&op, ba.getWeight());
      if (failed(w))
        return failure();
      call(kBiasAdd, {exec_, *w, i64c(rowsOf(ba)), i64c(colsOf(ba)), buffer(ba.getInput()), buffer(ba)});
    } else if (auto r = dyn_cast<ir::RopeOp>(op)) {
      call(kRope, {exec_, pos, i64c(rowsOf(r)), i64c(colsOf(r)), i64c(r.getHeadDim()), i64c(r.getRopeDim()),
                   i32c(r.getStyle() == "neox" ? 0 : 1), buffer(r.getInput()), buffer(r)});
    } else if (auto a = dyn_cast<ir::AttentionOp>(op)) {
      int64_t rope = !a.getRopeStyle() ? -1 : *a.getRopeStyle() == "neox" ? 0 : 1;
      call(kAttention, {exec_, i32c(a.getLayer()), pos, i64c(rowsOf(a)), i64c(a.getHeads()), i64c(a.getKvHeads()),
                        i64c(a.getHeadDim()), i64c(a.getWindow()), i32c(rope), i64c(a.getRopeDim().value_or(0)),
                        buffer(a.getQ()), buffer(a.getK()), buffer(a.getV()), buffer(a)});
    } else if (auto s = dyn_cast<ir::SwiGluOp>(op)) {
      call(kSwiGlu, {exec_, i64c(floatsOf(s)), buffer(s.getGate()), buffer(s.getUp()), buffer(s)});
    } else if (auto ad = dyn_cast<ir::AddOp>(op)) {
      call(kAdd, {exec_, i64c(floatsOf(ad)), buffer(ad.getLhs()), buffer(ad.getRhs()), buffer(ad)});
    } else if (auto lr = dyn_cast<ir::LastRowOp>(op)) {
      call(kLastRow, {exec_, i64c(rowsOf(lr.getInput())), i64c(colsOf(lr)), buffer(lr.getInput()), buffer(lr)});
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
    if (names.size() > 3)
      return mm.emitOpError("has ") << names.size() << " weights; the runtime ABI takes at most 3 per call";
    int32_t prologue = mm.getPrologue() == "rms_norm" ? 1 : mm.getPrologue() == "swiglu" ? 2 : 0;
    Value norm = i32c(-1), eps = i32c(0);
    if (prologue == 1) {
      auto w = weight(mm, *mm.getNorm());
      if (failed(w))
        return failure();
      norm = *w;
      eps = bits(mm.getEpsAttr());
    }
    SmallVector<Value> ws, outs;
    for (unsigned i = 0; i < 3; ++i) {
      if (i < names.size()) {
        auto w = weight(mm, cast<StringAttr>(names[i]).getValue());
        if (failed(w))
          return failure();
        ws.push_back(*w);
        outs.push_back(buffer(mm.getResult(i)));
      } else {
        ws.push_back(i32c(-1));
        outs.push_back(null());
      }
    }
    Value in0 = mm.getInputs()[0];
    Value in1 = mm.getInputs().size() > 1 ? buffer(mm.getInputs()[1]) : null();
    Value residual = mm.getResidual() ? buffer(mm.getResidual()) : null();
    call(kQMatmul, {exec_, i32c(prologue), i64c(rowsOf(in0)), i64c(mm.getCols()), buffer(in0), in1, norm, eps,
                    residual, i32c(int64_t(names.size())), ws[0], ws[1], ws[2], outs[0], outs[1], outs[2]});
    return success();
  }

  ModuleOp module_;
  OpBuilder b_;
  Location loc_ = UnknownLoc::get(module_.getContext());
  Type ptr_, i32_, i64_;
  LLVM::LLVMStructType api_;
  Value apiArg_, exec_, workspace_;
  std::map<std::string, int32_t> weightIndex_;
  std::map<void *, int64_t> offset_;
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
  module.getContext()->loadDialect<LLVM::LLVMDialect>();
  return Lowering(module).run();
}

std::unique_ptr<Pass> createLowerToLLVMPass() { return std::make_unique<LowerToLLVMPass>(); }

} // namespace mcc
