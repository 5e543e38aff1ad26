// The graph stages as plain C++ for the driver: the driver is built with
// RTTI, LLVM/MLIR without, so MLIR types stay behind this header.
#pragma once

#include "compiler/import/ModelDesc.h"

#include <string>

namespace mcc {

struct GraphOptions {
  bool fuse = true;
  int64_t prefillTokens = 64;
};

// The module in the mcc dialect (before or after fusion), as MLIR text.
// Throws mcc::Error if the graph fails to build, verify or fuse.
std::string emitGraph(const ModelDesc &m, const GraphOptions &o);

// The fused graph's op counts, weight bytes read per decoded token, and the
// tokens/s that memory bandwidth allows.
std::string graphReport(const ModelDesc &m, const GraphOptions &o, double bandwidthGBs);

} // namespace mcc
