#include "compiler/codegen/Target.h"
#include "format/CpuFeatures.h"
#include "format/Error.h"

#include <algorithm>

#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

namespace mcc {

bool TargetSpec::isX86() const { return triple.rfind("x86_64", 0) == 0; }

TargetSpec targetFor(const std::string &name) {
  if (name == "host") {
    // Only features the runtime can check are switched on, so the code the
    // host's CPU name would allow beyond them (and that a smaller CPU would
    // trap on) is never emitted.
    TargetSpec t{name, llvm::sys::getDefaultTargetTriple(), llvm::sys::getHostCPUName().str(), "", {}};
    for (const auto &[feature, on] : llvm::sys::getHostCPUFeatures()) {
      bool use = on && knownCpuFeature(feature.str()) && cpuHas(feature.str());
      t.features += (t.features.empty() ? "" : ",") + std::string(use ? "+" : "-") + feature.str();
      if (use)
        t.needs.push_back(feature.str());
    }
    std::sort(t.needs.begin(), t.needs.end());
    return t;
  }
  if (name == "x86-64-v3" || name == "x86-64-v4")
    return {name, "x86_64-unknown-linux-gnu", name, "", x86LevelFeatures(name)};
  if (name == "aarch64")
    return {name, "aarch64-unknown-linux-gnu", "generic", "+neon,+dotprod", {"neon", "dotprod"}};
  throw Error(cat("--target: unknown target '", name, "' (host, x86-64-v3, x86-64-v4, aarch64)"));
}

std::vector<TargetSpec> targetsFor(const std::string &list) {
  std::vector<TargetSpec> out;
  size_t from = 0;
  while (from <= list.size()) {
    size_t comma = std::min(list.find(',', from), list.size());
    std::string name = list.substr(from, comma - from);
    for (const TargetSpec &t : out)
      if (t.name == name)
        throw Error(cat("--target: '", name, "' is listed twice"));
    out.push_back(targetFor(name));
    if (out.back().isX86() != out.front().isX86())
      throw Error(cat("--target ", list, ": one executable carries code for one architecture"));
    from = comma + 1;
  }
  return out;
}

std::string defaultTargets() {
#if defined(__x86_64__)
  return "x86-64-v4,x86-64-v3";
#else
  return "host";
#endif
}

namespace {
void initTargets() {
  static bool done = [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
    llvm::InitializeAllAsmParsers();
    return true;
  }();
  (void)done;
}
} // namespace

std::string emitCode(mlir::ModuleOp module, const TargetSpec &t, CodeStage stage) {
  initTargets();
  mlir::registerBuiltinDialectTranslation(*module.getContext());
  mlir::registerLLVMDialectTranslation(*module.getContext());
  llvm::LLVMContext llvmCtx;
  std::unique_ptr<llvm::Module> ir = mlir::translateModuleToLLVMIR(module, llvmCtx, "mcc");
  if (!ir)
    throw Error("generated code: translation to LLVM IR failed");

  std::string error;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(t.triple, error);
  if (!target)
    throw Error(cat("--target ", t.name, ": ", error));
  llvm::TargetOptions opts;
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      t.triple, t.cpu, t.features, opts, llvm::Reloc::PIC_, llvm::CodeModel::Small, llvm::CodeGenOptLevel::Default));
  ir->setTargetTriple(t.triple);
  ir->setDataLayout(tm->createDataLayout());

  // -O2 over the module, as clang would.
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  // Vectorizers on: the generated elementwise loops are plain scalar loops
  // (their constant pools are linked into the blob: LinkBlob.cpp).
  llvm::PipelineTuningOptions pto;
  pto.SLPVectorization = true;
  pto.LoopVectorization = true;
  llvm::PassBuilder pb(tm.get(), pto);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2).run(*ir, mam);

  std::string out;
  llvm::raw_string_ostream os(out);
  if (stage == CodeStage::LLVMIR) {
    ir->print(os, nullptr);
    return out;
  }
  llvm::SmallVector<char, 0> buf;
  llvm::raw_svector_ostream bos(buf);
  llvm::legacy::PassManager pm;
  auto type = stage == CodeStage::Asm ? llvm::CodeGenFileType::AssemblyFile : llvm::CodeGenFileType::ObjectFile;
  if (tm->addPassesToEmitFile(pm, bos, nullptr, type))
    throw Error(cat("--target ", t.name, ": cannot emit this file type"));
  pm.run(*ir);
  return std::string(buf.begin(), buf.end());
}

} // namespace mcc
