#include "compiler/passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "mlir/Transforms/Passes.h"

namespace mcc {

void addFusionPipeline(mlir::OpPassManager &pm) {
  pm.addPass(createMergeProjectionsPass());
  pm.addPass(createFoldRmsNormPass());
  pm.addPass(createFuseSwiGluPass());
  pm.addPass(createFuseResidualPass());
  pm.addPass(createFuseRopePass());
  pm.addPass(mlir::createCanonicalizerPass());
}

void registerPasses() {
  mlir::registerPass([] { return createMergeProjectionsPass(); });
  mlir::registerPass([] { return createFoldRmsNormPass(); });
  mlir::registerPass([] { return createFuseSwiGluPass(); });
  mlir::registerPass([] { return createFuseResidualPass(); });
  mlir::registerPass([] { return createFuseRopePass(); });
  mlir::PassPipelineRegistration<>("mcc-fuse", "Every mcc fusion pass, then canonicalize", addFusionPipeline);
}

} // namespace mcc
