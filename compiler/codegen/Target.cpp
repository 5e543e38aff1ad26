#include "compiler/codegen/Target.h"
#include "compiler/import/Error.h"

#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

namespace mcc {

bool TargetSpec::isX86() const { return triple.rfind("x86_64", 0) == 0; }

TargetSpec targetFor(const std::string &name) {
  if (name == "host") {
    TargetSpec t{name, llvm::sys::getDefaultTargetTriple(), llvm::sys::getHostCPUName().str(), ""};
    for (const auto &[feature, on] : llvm::sys::getHostCPUFeatures())
      t.features += (t.features.empty() ? "" : ",") + std::string(on ? "+" : "-") + feature.str();
    return t;
  }
  if (name == "x86-64-v3" || name == "x86-64-v4")
    return {name, "x86_64-unknown-linux-gnu", name, ""};
  if (name == "aarch64")
    return {name, "aarch64-unknown-linux-gnu", "generic", "+neon,+dotprod"};
  throw Error(cat("--target: unknown target '", name, "' (host, x86-64-v3, x86-64-v4, aarch64)"));
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
  // No vectorizers: the code is straight-line calls, and vector constants
  // would land in a constant pool the runtime would have to link.
  llvm::PipelineTuningOptions pto;
  pto.SLPVectorization = false;
  pto.LoopVectorization = false;
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

CodeBlob codeBlob(const std::string &object) {
  auto obj = llvm::object::ObjectFile::createObjectFile(llvm::MemoryBufferRef(object, "generated"));
  if (!obj)
    throw Error(cat("generated code: not an object: ", llvm::toString(obj.takeError())));
  CodeBlob blob;
  llvm::object::SectionRef text;
  for (const llvm::object::SectionRef &s : (*obj)->sections()) {
    llvm::Expected<llvm::StringRef> name = s.getName();
    std::string n = name ? name->str() : "";
    if (n == ".text")
      text = s;
    // Other sections (an unused constant-pool entry, say) are harmless as
    // long as .text never refers to them, which would need a relocation.
  }
  if (text == llvm::object::SectionRef())
    throw Error("generated code: no .text section");
  if (!text.relocations().empty())
    throw Error("generated code: .text needs relocations (it must reach the runtime only through McApi)");
  llvm::Expected<llvm::StringRef> contents = text.getContents();
  if (!contents)
    throw Error("generated code: cannot read .text");
  blob.text.assign(contents->begin(), contents->end());
  for (const llvm::object::SymbolRef &sym : (*obj)->symbols()) {
    auto name = sym.getName();
    auto addr = sym.getAddress();
    auto type = sym.getType();
    if (name && addr && type && *type == llvm::object::SymbolRef::ST_Function && name->starts_with("mcc_"))
      blob.entries[name->str()] = *addr;
  }
  return blob;
}

} // namespace mcc
