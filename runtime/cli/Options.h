// The command line of every generated executable:
//   NAME [-p TEXT | -f FILE | < stdin] [options]    generate
//   NAME --chat                                     interactive, multi-turn
//   NAME bench [-p 512] [-n 128] [--json]           speed figures
//   NAME serve [--port 8080] [--parallel 4] ...     an OpenAI-compatible server
#pragma once

#include "runtime/Sampler.h"
#include "runtime/server/Serve.h"

#include <optional>
#include <string>

namespace mcc {

struct RunOptions {
  std::string prompt, promptFile;
  int n = 256;
  int ctx = 0; // 0: the model's, at most 4096
  int threads = 1;
  bool chat = false, raw = false, version = false, noVerify = false, interpret = false;
  SamplerConfig sampler;
  bool exact = false; // --precision exact: f32 activations in every product
  std::string precision; // as given; empty: as compiled (Main sets exact)
  kernels::KvType kv = kernels::KvType::F16; // --kv-cache
  // bench
  bool bench = false, benchJson = false;
  int pp = 512, tg = 128;
  int streams = 0, depth = 128; // bench: N sequences decoding together, each at depth positions
  // serve
  bool serve = false;
  ServeOptions server;
  // Test hooks (hidden): teacher-forced logits and raw ids, so the tests
  // check this very executable against reference engines.
  std::string tokens, dumpLogits;
  bool oneAtATime = false; // --dump-logits feeding one token per step (the decode kernels)
  int rows = 1;             // with oneAtATime: each step as `rows` sequences at once (a server's step)
  int admit = 0;            // with rows: each step also feeds `admit` prompt tokens of another sequence
};

// Parses argv. On --help, or on a bad flag (one line on stderr naming it),
// returns nullopt and sets *exitCode.
std::optional<RunOptions> parseOptions(int argc, char **argv, int *exitCode);

} // namespace mcc
