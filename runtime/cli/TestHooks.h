// The hidden --tokens / --dump-logits hooks: raw token ids in, teacher-forced
// logits or sampled ids out, so the tests check this very executable against
// reference engines without going through text.
#pragma once

#include "runtime/cli/Options.h"
#include "runtime/cli/Session.h"

namespace mcc {

int runTokens(Session &s, const RunOptions &o);

} // namespace mcc
