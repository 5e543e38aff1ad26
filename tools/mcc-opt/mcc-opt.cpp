// mcc-opt: mlir-opt with the mcc dialect and passes, for the lit tests:
//   mcc-opt --mcc-merge-projections input.mlir | FileCheck input.mlir
#include "compiler/dialect/Dialect.h"
#include "compiler/passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<mcc::ir::MccDialect, mlir::func::FuncDialect>();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mcc::registerPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "mcc-opt: the mcc dialect and passes\n", registry));
}
