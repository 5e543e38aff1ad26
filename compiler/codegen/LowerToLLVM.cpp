// The pass and the pipeline after the graph is lowered to calls
// (OpLowerings.cpp): exp as a polynomial, loops to branches, and
// arith/math/cf to the LLVM dialect.
#include "compiler/codegen/LowerToLLVM.h"
#include "compiler/codegen/OpLowerings.h"

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

using namespace mlir;

namespace mcc {

namespace {


struct LowerToLLVMPass : PassWrapper<LowerToLLVMPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(LowerToLLVMPass)
  LowerToLLVMPass() = default;
  LowerToLLVMPass(const LowerToLLVMPass &other) : PassWrapper(other) {}
  Option<int64_t> serialBelow{*this, "serial-below",
                              llvm::cl::desc("Elementwise ops over fewer floats run on the calling thread"),
                              llvm::cl::init(kSerialBelowFloats)};
  StringRef getArgument() const override { return "mcc-lower-to-llvm"; }
  StringRef getDescription() const override { return "Lower the fused graph to calls through the runtime ABI"; }
  void getDependentDialects(DialectRegistry &r) const override { r.insert<LLVM::LLVMDialect>(); }
  void runOnOperation() override {
    if (failed(lowerToLLVM(getOperation(), LowerOptions{serialBelow})))
      signalPassFailure();
  }
};

} // namespace

LogicalResult lowerToLLVM(ModuleOp module, const LowerOptions &options) {
  MLIRContext *ctx = module.getContext();
  ctx->loadDialect<LLVM::LLVMDialect, arith::ArithDialect, math::MathDialect, scf::SCFDialect, cf::ControlFlowDialect>();
  if (failed(codegen::lowerGraphToCalls(module, options.serialBelow)))
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
