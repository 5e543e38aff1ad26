// Each op of the fused graph lowered to generated loops and calls through
// the McApi table, one method per op (TypeSwitch below), and the driver that
// plans each entry point's workspace as it walks the ops in order.
#include "compiler/codegen/OpLowerings.h"
#include "compiler/codegen/RegionBuilder.h"

#include "llvm/ADT/TypeSwitch.h"

namespace mcc::codegen {

namespace {

class Lowering : public RegionBuilder {
public:
  using RegionBuilder::RegionBuilder;

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
    tokens_ = entry->getArgument(3);
    pos_ = entry->getArgument(4);

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
      if (failed(lowerOp(op)) || badOperand_)
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

  // One lowering per op of the fused graph; anything else has none.
  LogicalResult lowerOp(Operation &op) {
    return llvm::TypeSwitch<Operation *, LogicalResult>(&op)
        .Case<ir::EmbeddingOp>([&](auto o) { return lower(o); })
        .Case<ir::RmsNormOp>([&](auto o) { return lower(o); })
        .Case<ir::QMatmulOp>([&](auto o) { return lowerMatmul(o); })
        .Case<ir::BiasAddOp>([&](auto o) { return lower(o); })
        .Case<ir::RopeOp>([&](auto o) { return lower(o); })
        .Case<ir::AttentionOp>([&](auto o) { return lower(o); })
        .Case<ir::SwiGluOp>([&](auto o) { return lower(o); })
        .Case<ir::AddOp>([&](auto o) { return lower(o); })
        .Case<ir::LastRowOp>([&](auto o) { return lower(o); })
        .Case<func::ReturnOp>([&](auto o) { return lower(o); })
        .Default([](Operation *o) { return o->emitOpError("has no lowering to the runtime ABI"); });
  }

  LogicalResult lower(ir::EmbeddingOp e) {
    auto w = weight(e.getOperation(), e.getWeight());
    if (failed(w))
      return failure();
    call(kEmbedding, {exec_, i32c(*w), tokens_, i64c(rowsOf(e)), i64c(colsOf(e)), buffer(e)});
    return success();
  }

  LogicalResult lower(ir::RmsNormOp n) {
    auto w = weight(n.getOperation(), n.getWeight());
    if (failed(w))
      return failure();
    int64_t group = n.getGroup(), groups = floatsOf(n) / group;
    float eps = n.getEps().convertToFloat();
    shared(floatsOf(n), [&](Value t, Value nt) {
      auto [g0, g1] = slice(groups, t, nt);
      rmsNormLoop(buffer(n.getInput()), buffer(n), smallVector(*w), g0, g1, group, eps);
    });
    return success();
  }

  LogicalResult lower(ir::BiasAddOp ba) {
    auto w = weight(ba.getOperation(), ba.getWeight());
    if (failed(w))
      return failure();
    int64_t rows = rowsOf(ba), cols = colsOf(ba);
    // Columns split over the threads: every row, so one token splits too.
    shared(rows * cols, [&](Value t, Value nt) {
      auto [c0, c1] = slice(cols, t, nt);
      Value in = buffer(ba.getInput()), out = buffer(ba), bias = smallVector(*w);
      loop(i64c(0), i64c(rows), [&](Value r) {
        loop(c0, c1, [&](Value c) {
          Value i = add(mul(r, i64c(cols)), c);
          store(b_.create<arith::AddFOp>(loc_, load(in, i), load(bias, c)), out, i);
        });
      });
    });
    return success();
  }

  LogicalResult lower(ir::RopeOp r) {
    // Every (row, head) pair shared out.
    int64_t rows = rowsOf(r), cols = colsOf(r), hd = r.getHeadDim(), heads = cols / hd;
    bool inter = r.getStyle() != "neox";
    shared(rows * cols, [&](Value t, Value nt) {
      auto [cosT, sinT] = ropeTables();
      ropeRows(buffer(r.getInput()), buffer(r), rows, heads, hd, r.getRopeDim(), inter, cosT, sinT, t, nt);
    });
    return success();
  }

  LogicalResult lower(ir::AttentionOp a) {
    // Generated before the runtime's attention: this step's keys and
    // values go into the layer's cache at pos... through the runtime's
    // store_kv (the cache's format is the runtime's: f16, or int8 with
    // scales), and, when RoPE was fused here (mcc-fuse-rope), q and k are
    // rotated on the way (into buffers of their own). Every (row, head)
    // pair is shared out.
    int64_t rows = rowsOf(a), heads = a.getHeads(), kvHeads = a.getKvHeads(), hd = a.getHeadDim();
    int64_t qCols = heads * hd, kvCols = kvHeads * hd, layer = a.getLayer();
    bool rope = bool(a.getRopeStyle());
    bool inter = rope && *a.getRopeStyle() != "neox";
    int64_t ropeDim = a.getRopeDim().value_or(0);
    std::optional<int64_t> rotated, rotatedK;
    if (rope) {
      rotated = plan_->allocate(rows * qCols);
      rotatedK = plan_->allocate(rows * kvCols);
    }
    shared(rows * (qCols + 2 * kvCols), [&](Value t, Value nt) {
      Value cosT, sinT;
      if (rope) {
        std::tie(cosT, sinT) = ropeTables();
        ropeRows(buffer(a.getQ()), at(*rotated), rows, heads, hd, ropeDim, inter, cosT, sinT, t, nt);
      }
      Value kIn = buffer(a.getK()), vIn = buffer(a.getV());
      auto [w0, w1] = slice(rows * kvHeads, t, nt);
      loop(w0, w1, [&](Value u) {
        Value row = b_.create<arith::DivSIOp>(loc_, u, i64c(kvHeads));
        Value head = b_.create<arith::RemSIOp>(loc_, u, i64c(kvHeads));
        Value src = add(mul(row, i64c(kvCols)), mul(head, i64c(hd)));
        Value p = add(b_.create<arith::ExtSIOp>(loc_, i64_, pos_), row); // this token's position
        Value key = elem(kIn, src);
        if (rope) {
          Value kRot = at(*rotatedK);
          ropeHeadLoop(kIn, kvCols, row, head, hd, ropeDim, inter, cosT, sinT,
                       [&](Value e, Value val) { store(val, kRot, add(src, e)); });
          key = elem(kRot, src);
        }
        call(kStoreKv, {exec_, i32c(layer), b_.create<arith::TruncIOp>(loc_, i32_, head),
                        b_.create<arith::TruncIOp>(loc_, i32_, p), key, elem(vIn, src)});
      });
    });
    call(kAttend, {exec_, i32c(layer), pos_, i64c(rows), i64c(heads), i64c(kvHeads), i64c(hd), i64c(a.getWindow()),
                   rope ? at(*rotated) : buffer(a.getQ()), buffer(a)});
    if (rotated) {
      plan_->release(*rotatedK, rows * kvCols);
      plan_->release(*rotated, rows * qCols);
    }
    return success();
  }

  LogicalResult lower(ir::SwiGluOp s) {
    shared(floatsOf(s), [&](Value t, Value nt) {
      auto [lo, hi] = slice(floatsOf(s), t, nt);
      swigluLoop(buffer(s.getGate()), buffer(s.getUp()), buffer(s), lo, hi);
    });
    return success();
  }

  LogicalResult lower(ir::AddOp ad) {
    shared(floatsOf(ad), [&](Value t, Value nt) {
      auto [lo, hi] = slice(floatsOf(ad), t, nt);
      Value a = buffer(ad.getLhs()), b = buffer(ad.getRhs()), out = buffer(ad);
      loop(lo, hi, [&](Value i) { store(b_.create<arith::AddFOp>(loc_, load(a, i), load(b, i)), out, i); });
    });
    return success();
  }

  LogicalResult lower(ir::LastRowOp lr) {
    // A copy too small to share out.
    int64_t cols = colsOf(lr), from = (rowsOf(lr.getInput()) - 1) * cols;
    Value in = buffer(lr.getInput()), out = buffer(lr);
    loop(i64c(0), i64c(cols), [&](Value i) { store(load(in, add(i, i64c(from))), out, i); });
    return success();
  }

  LogicalResult lower(func::ReturnOp ret) {
    if (ret.getNumOperands() != 1)
      return ret->emitOpError("must return the logits alone");
    b_.create<LLVM::ReturnOp>(loc_, buffer(ret.getOperand(0)));
    return success();
  }

  LogicalResult lowerMatmul(ir::QMatmulOp mm) {
    auto names = mm.getWeights();
    // The fused prologue writes the prepared activations to a buffer of
    // their own (live for this op only), which every weight's product then
    // reads: a region of its own, or on the calling thread when small
    // (RegionBuilder::shared).
    Value in0 = mm.getInputs()[0];
    int64_t rows = rowsOf(in0), cols = mm.getCols();
    std::optional<int64_t> prepared;
    if (mm.getPrologue() == "rms_norm") {
      auto w = weight(mm, *mm.getNorm());
      if (failed(w))
        return failure();
      prepared = plan_->allocate(rows * cols);
      float eps = mm.getEpsAttr().getValueAsDouble();
      shared(rows * cols, [&](Value t, Value nt) {
        auto [r0, r1] = slice(rows, t, nt);
        rmsNormLoop(buffer(in0), at(*prepared), smallVector(*w), r0, r1, cols, eps);
      });
    } else if (mm.getPrologue() == "swiglu") {
      prepared = plan_->allocate(rows * cols);
      shared(rows * cols, [&](Value t, Value nt) {
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
      shared(rows * cols, [&](Value t, Value nt) {
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
    // out as one range, in multiples of 16 (whole panels, format/Panel.h),
    // so the threads meet once for the lot.
    parallel([&](Value t, Value nt) {
      Value R = i64c(total);
      auto edge = [&](Value k) {
        Value share = b_.create<arith::DivSIOp>(loc_, mul(R, k), nt);
        Value up = mul(b_.create<arith::DivSIOp>(loc_, add(share, i64c(15)), i64c(16)), i64c(16));
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
};

} // namespace

LogicalResult lowerGraphToCalls(ModuleOp module, int64_t serialBelow) { return Lowering(module, serialBelow).run(); }

} // namespace mcc::codegen
