// `NAME bench`: prompt and generation speed, time to first token, peak
// memory, and how near decode runs to the memory-bandwidth limit.
#pragma once

#include "runtime/Loader.h"
#include "runtime/cli/Options.h"

#include <chrono>

namespace mcc {

int runBench(const LoadedModel &lm, const RunOptions &o, std::chrono::steady_clock::time_point start);

} // namespace mcc
