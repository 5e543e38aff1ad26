// What decoding speed the memory allows: a decoded token reads every weight
// once, so tokens/s can be at most bandwidth / weight bytes per token. The
// bench command measures both on the box it runs on, with the threads it
// decodes with, and prints how close decoding came.
#pragma once

#include "format/ModelDesc.h"
#include "runtime/ThreadPool.h"

#include <cstdint>

namespace mcc {

// Bytes of weights one decoded token reads: every tensor in the layout the
// kernels use, but of an untied embedding table only one row.
uint64_t weightBytesPerToken(const ModelDesc &m);

// Read bandwidth in GB/s (1e9 bytes/s) over `bytes` of memory, much larger
// than any cache and in 2 MiB pages as the weights are, read by every thread
// of the pool; the best of a few passes.
double readBandwidth(ThreadPool &pool, uint64_t bytes = uint64_t(1) << 30);

} // namespace mcc
