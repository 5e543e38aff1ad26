// `./NAME serve`: the model behind an OpenAI-compatible HTTP API
// (cpp-httplib), for programs on the box or the network to call.
#pragma once

#include "kernels/Kernels.h"
#include "runtime/Loader.h"

#include <cstddef>
#include <string>

namespace mcc {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int parallel = 4;    // requests generating at once, each with its own KV cache
  std::string api_key; // empty: no key needed
  int ctx = 0;         // per request; 0: the model's, at most 4096
  int threads = 1;
  bool exact = false;
  kernels::KvType kv = kernels::KvType::F16;
  size_t max_body = 1 << 20;
};

// Serves until SIGINT or SIGTERM; returns the exit code. Throws mcc::Error
// when the server cannot start (the port is taken, the caches do not fit).
int runServe(const LoadedModel &lm, const ServeOptions &o);

} // namespace mcc
