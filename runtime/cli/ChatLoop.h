// `NAME --chat`: multi-turn, reading one user line at a time; only the new
// part of the conversation goes through the model, the KV cache keeps the rest.
#pragma once

#include "runtime/Sampler.h"
#include "runtime/cli/Session.h"

namespace mcc {

int runChat(Session &s, const SamplerConfig &sc, int n);

} // namespace mcc
