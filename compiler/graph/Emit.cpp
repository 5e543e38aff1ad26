#include "compiler/graph/Emit.h"
#include "compiler/codegen/LowerToLLVM.h"
#include "compiler/codegen/Target.h"
#include "compiler/dialect/Dialect.h"
#include "compiler/graph/GraphBuilder.h"
#include "format/Error.h"
#include "compiler/pack/Repack.h"
#include "compiler/passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include <cstdio>
#include <map>

using namespace mlir;

namespace mcc {

namespace {

// Builds, verifies and (optionally) fuses; MLIR diagnostics become the error.
OwningOpRef<ModuleOp> build(MLIRContext &ctx, const ModelDesc &m, const GraphOptions &o) {
  std::string diag;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    diag += d.str();
    return success();
  });
  OwningOpRef<ModuleOp> module = buildGraph(ctx, m);
  if (failed(verify(*module)))
    throw Error(cat(m.source, ": the model graph does not verify: ", diag));
  if (o.fuse) {
    PassManager pm(&ctx);
    addFusionPipeline(pm);
    if (failed(pm.run(*module)))
      throw Error(cat(m.source, ": fusion failed: ", diag));
  }
  return module;
}

} // namespace

// The graph lowered to the LLVM dialect.
OwningOpRef<ModuleOp> lowered(MLIRContext &ctx, const ModelDesc &m, const GraphOptions &o) {
  OwningOpRef<ModuleOp> module = build(ctx, m, o);
  std::string diag;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
    diag += d.str();
    return success();
  });
  if (failed(lowerToLLVM(*module)) || failed(verify(*module)))
    throw Error(cat(m.source, ": lowering the graph failed: ", diag));
  return module;
}

std::string emitStage(const ModelDesc &m, const GraphOptions &o, Stage s) {
  MLIRContext ctx;
  if (s == Stage::Mlir || s == Stage::MlirFused) {
    GraphOptions g = o;
    g.fuse = o.fuse && s == Stage::MlirFused;
    OwningOpRef<ModuleOp> module = build(ctx, m, g);
    std::string text;
    llvm::raw_string_ostream os(text);
    module->print(os);
    return text;
  }
  TargetSpec t = targetsFor(targetList(o)).front();
  OwningOpRef<ModuleOp> module = lowered(ctx, m, o);
  return emitCode(*module, t, s == Stage::LLVMIR ? CodeStage::LLVMIR : s == Stage::Asm ? CodeStage::Asm : CodeStage::Object);
}

std::string targetList(const GraphOptions &o) { return o.target.empty() ? defaultTargets() : o.target; }

std::vector<GeneratedCode> generateCode(const ModelDesc &m, const GraphOptions &o) {
  MLIRContext ctx;
  std::vector<TargetSpec> targets = targetsFor(targetList(o));
  OwningOpRef<ModuleOp> module = lowered(ctx, m, o);
  std::vector<GeneratedCode> out;
  for (const TargetSpec &t : targets) {
    GeneratedCode &g = out.emplace_back();
    g.target = t.name;
    g.triple = t.triple;
    g.needs = t.needs;
    g.workspace_floats = (*module)->getAttrOfType<IntegerAttr>("mcc.workspace_floats").getInt();
    CodeBlob blob = codeBlob(emitCode(*module, t, CodeStage::Object));
    g.text = std::move(blob.text);
    g.entries = std::move(blob.entries);
  }
  return out;
}

std::string graphReport(const ModelDesc &m, const GraphOptions &o, double bandwidthGBs) {
  MLIRContext ctx;
  OwningOpRef<ModuleOp> module = build(ctx, m, o);
  auto decode = module->lookupSymbol<func::FuncOp>("decode");
  std::map<std::string, int> ops;
  std::map<std::string, int> prologues;
  uint64_t bytes = 0;
  decode.walk([&](Operation *op) {
    if (isa<func::FuncOp, func::ReturnOp>(op))
      return;
    ops[op->getName().getStringRef().str()]++;
    if (auto mm = dyn_cast<ir::QMatmulOp>(op)) {
      prologues[cat(mm.getPrologue().str(), mm.getResidual() ? " + residual" : "", ", ", mm.getNumResults(),
                    " weight(s)")]++;
      for (Attribute a : mm.getWeights())
        if (const Weight *w = m.find(cast<StringAttr>(a).getValue()))
          bytes += packedBytes(*w);
    }
  });
  // Decoding reads one row of the embedding table.
  if (const Weight *e = m.find("token_embd"))
    bytes += packedBytes(*e) / uint64_t(e->rows());
  std::string s = cat("graph of @decode (", o.fuse ? "fused" : "not fused", "):\n");
  for (auto &[name, n] : ops)
    s += cat("  ", name, " x", n, "\n");
  s += "qmatmul kinds:\n";
  for (auto &[kind, n] : prologues)
    s += cat("  ", kind, ": x", n, "\n");
  char line[160];
  std::snprintf(line, sizeof line, "weight bytes per token: %.1f MiB\n", double(bytes) / (1 << 20));
  s += line;
  std::snprintf(line, sizeof line, "at %.1f GB/s memory bandwidth: at most %.0f tokens/s\n", bandwidthGBs,
                bandwidthGBs * 1e9 / double(bytes));
  s += line;
  // What a CPU must have to run the executable, and what it gains with more.
  std::vector<TargetSpec> targets = targetsFor(targetList(o));
  s += "cpu:\n";
  for (const TargetSpec &t : targets) {
    std::string needs;
    for (const std::string &f : t.needs)
      needs += (needs.empty() ? "" : " ") + f;
    s += cat("  code for ", t.name, " needs: ", needs, "\n");
  }
  s += cat("  runs on a CPU with what the code for ", targets.back().name,
           " needs; at start-up it runs the first version (in the order above) the CPU can\n");
  s += targets.front().isX86()
           ? "  kernels, chosen at start-up: avx512 (integer products with avx512vnni), avx2, generic\n"
           : "  kernels, chosen at start-up: neon (with dotprod), generic\n";
  return s;
}

} // namespace mcc
