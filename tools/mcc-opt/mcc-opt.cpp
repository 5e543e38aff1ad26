// mcc-opt: mlir-opt with the mcc dialect and passes, for the lit tests:
//   mcc-opt --mcc-merge-projections input.mlir | FileCheck input.mlir
#include "compiler/dialect/Dialect.h"
#include "compiler/codegen/LowerToLLVM.h"
#include "compiler/passes/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mcc::ir::MccDialect, mlir::func::FuncDialect, mlir::LLVM::LLVMDialect>();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mcc::registerPasses();
  mlir::registerPass([] { return mcc::createLowerToLLVMPass(); });
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "mcc-opt: the mcc dialect and passes\n", registry));
}
