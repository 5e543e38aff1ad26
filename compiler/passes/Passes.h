// The fusion passes over the mcc dialect, one file each, each a small set of
// rewrite patterns. In pipeline order:
//   mcc-merge-projections  matmuls reading one input (Q/K/V, gate/up) -> one matmul, several results
//   mcc-fold-rmsnorm       an RMSNorm feeding only matmuls -> those matmuls' activation prologue
//   mcc-fuse-swiglu        SwiGLU feeding only the down projection -> its prologue
//   mcc-fuse-residual      residual add of a matmul's only use -> the matmul's epilogue
//   mcc-fuse-rope          RoPE on Q/K feeding only attention -> its KV write and query read
// `mcc-fuse` runs them all, then canonicalize.
#pragma once

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

#include <memory>

namespace mcc {

std::unique_ptr<mlir::Pass> createMergeProjectionsPass();
std::unique_ptr<mlir::Pass> createFoldRmsNormPass();
std::unique_ptr<mlir::Pass> createFuseSwiGluPass();
std::unique_ptr<mlir::Pass> createFuseResidualPass();
std::unique_ptr<mlir::Pass> createFuseRopePass();

// The whole fusion pipeline, on every function of a module.
void addFusionPipeline(mlir::OpPassManager &pm);

// For mcc-opt: each pass and the `mcc-fuse` pipeline.
void registerPasses();

} // namespace mcc
