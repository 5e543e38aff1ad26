#include "runtime/cli/Options.h"
#include "runtime/Forward.h"
#include "runtime/ThreadPool.h"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

namespace mcc {

namespace {

// CLI11's Range lets NaN through (every comparison with it is false): each
// floating-point flag is checked for a finite value first.
const CLI::Validator kFinite(
    [](std::string &s) -> std::string {
      char *end = nullptr;
      double v = std::strtod(s.c_str(), &end);
      if (end == s.c_str() || *end != 0)
        return "not a number: " + s;
      if (!std::isfinite(v))
        return "must be a finite number, not " + s;
      return {};
    },
    "FINITE");

// CLI11 leaves a hidden option's name out of its messages (its name is
// empty outside --help): the hidden test hooks' ranges name the flag
// themselves, and parseOptions drops the empty name's ": ".
CLI::Validator namedRange(std::string flag, int lo, int hi) {
  return CLI::Validator(
      [=](std::string &s) -> std::string {
        char *end = nullptr;
        long v = std::strtol(s.c_str(), &end, 10);
        if (end == s.c_str() || *end != 0 || v < lo || v > hi)
          return flag + ": " + s + " is not a whole number from " + std::to_string(lo) + " to " + std::to_string(hi);
        return {};
      },
      "INT");
}

} // namespace

std::optional<RunOptions> parseOptions(int argc, char **argv, int *exitCode) {
  RunOptions o;
  o.threads = ThreadPool::cores();
  o.sampler.seed = uint64_t(std::chrono::system_clock::now().time_since_epoch().count());
  SamplerConfig &sc = o.sampler;
  CLI::App app{"An LLM compiled by mcc: runs with nothing installed."};
  app.add_option("-p,--prompt", o.prompt, "Prompt text");
  app.add_option("-f,--file", o.promptFile, "Read the prompt from a file");
  app.add_option("-n,--n-predict", o.n, "Tokens to generate (-1: until a stop token or a full context)")
      ->check(CLI::Range(-1, 1 << 30));
  app.add_option("-c,--ctx-size", o.ctx, "Context size in tokens (default: the model's, at most 4096)")
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--temp", sc.temp, "Temperature (0: greedy)")->check(kFinite & CLI::Range(0.0, 100.0));
  app.add_option("--top-k", sc.top_k, "Top-k (0: off)")->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", sc.top_p, "Top-p")->check(kFinite & CLI::Range(0.0, 1.0));
  app.add_option("--min-p", sc.min_p, "Min-p")->check(kFinite & CLI::Range(0.0, 1.0));
  app.add_option("--repeat-penalty", sc.repeat_penalty, "Repetition penalty over the last 64 tokens")
      ->check(kFinite & CLI::Range(0.01, 100.0));
  app.add_option("--seed", sc.seed, "Random seed");
  app.add_option("-t,--threads", o.threads, "Threads")->check(CLI::Range(1, 1024));
  std::string precision;
  app.add_option("--precision", precision,
                 "fast: int8 activations through integer kernels; exact: f32 activations everywhere (default: "
                 "as compiled, fast unless mcc compile --precision exact)")
      ->check(CLI::IsMember({"fast", "exact"}));
  std::string kv = "f16";
  const char *kvHelp = "What the KV cache keeps: f16, or int8 with a scale per 32 values (a little over half the "
                       "memory; the keys rotated first, so that int8 keeps them close)";
  app.add_option("--kv-cache", kv, kvHelp)->check(CLI::IsMember({"f16", "int8"}));
  app.add_flag("--chat", o.chat, "Interactive multi-turn chat (the KV cache is kept across turns)");
  app.add_flag("--raw", o.raw, "Do not apply the chat template");
  app.add_flag("--version", o.version, "Print the model, its hash, mcc version and target ISA");
  app.add_flag("--no-verify", o.noVerify,
               "Skip hashing the weights at start-up (a corrupted file then goes undetected)");
  app.add_option("--tokens", o.tokens, "Space-separated prompt token ids")->group("");
  app.add_option("--dump-logits", o.dumpLogits, "Write float32 logits of every --tokens position to FILE")->group("");
  app.add_flag("--one-at-a-time", o.oneAtATime, "With --dump-logits: feed one token per step")->group("");
  app.add_option("--rows", o.rows,
                 "With --one-at-a-time: each step N sequences fed the same token, as a server's step of N "
                 "requests (the runtime's pass, every row's logits computed as the server's are); the first one's written")
      ->check(namedRange("--rows", 1, Forward::kMaxBatch))
      ->group("");
  app.add_option("--admit", o.admit,
                 "With --rows: each step also feeds K prompt tokens of one more sequence, as a server's step "
                 "that admits a request beside generating ones")
      ->check(namedRange("--admit", 1, Forward::kMaxBatch - 1))
      ->group("");
  // The runtime's own forward pass instead of the generated code (hidden:
  // for comparisons and figures).
  app.add_flag("--interpret", o.interpret, "Run the runtime's forward pass, not the generated code")->group("");
  CLI::App *bench = app.add_subcommand("bench", "Measure prompt and generation speed");
  bench->add_option("-p,--n-prompt", o.pp, "Prompt tokens")->check(CLI::Range(1, 1 << 20));
  bench->add_option("-n,--n-gen", o.tg, "Generated tokens")->check(CLI::Range(1, 1 << 20));
  bench->add_option("-t,--threads", o.threads, "Threads")->check(CLI::Range(1, 1024));
  bench->add_option("--streams", o.streams,
                    "Also decode N sequences together, as the server's steps do, against one alone")
      ->check(CLI::Range(1, Forward::kMaxBatch));
  bench->add_option("--depth", o.depth, "With --streams: positions already in each sequence's cache")
      ->check(CLI::Range(1, 1 << 16));
  bench->add_flag("--json", o.benchJson, "Print JSON");
  bench->add_option("--kv-cache", kv, kvHelp)->check(CLI::IsMember({"f16", "int8"}));
  bench->add_option("--precision", precision, "fast or exact")->check(CLI::IsMember({"fast", "exact"}));
  bench->add_flag("--no-verify", o.noVerify, "Skip hashing the weights at start-up");
  bench->add_flag("--interpret", o.interpret, "Run the runtime's forward pass, not the generated code");
  CLI::App *serve = app.add_subcommand("serve", "Serve the model over HTTP: the OpenAI API (/v1/chat/completions, "
                                                "/v1/completions, /v1/models), /health and /metrics");
  ServeOptions &so = o.server;
  // Numeric only: the executable is static, with no name service to ask.
  serve->add_option("--host", so.host, "IP address to listen on (127.0.0.1: this machine only; 0.0.0.0: every network)")
      ->check(CLI::Validator(
          [](std::string &s) -> std::string {
            unsigned char buf[16];
            if (::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1)
              return {};
            return "not a numeric IPv4 or IPv6 address: " + s;
          },
          "IP"));
  serve->add_option("--port", so.port, "Port")->check(CLI::Range(0, 65535));
  serve->add_option("--parallel", so.parallel, "Requests generated at once, each with its own KV cache")
      ->check(CLI::Range(1, Forward::kMaxBatch));
  serve->add_option("--api-key", so.api_key, "Require 'Authorization: Bearer KEY' on /v1/ routes");
  serve->add_option("-c,--ctx-size", o.ctx, "Context of each request in tokens (default: the model's, at most 4096)")
      ->check(CLI::Range(2, 1 << 24));
  serve->add_option("-t,--threads", o.threads, "Threads")->check(CLI::Range(1, 1024));
  serve->add_option("--max-body", so.max_body, "Largest request body in bytes")->check(CLI::Range(1024, 1 << 30));
  serve->add_option("--precision", precision, "fast or exact")->check(CLI::IsMember({"fast", "exact"}));
  serve->add_option("--kv-cache", kv, kvHelp)->check(CLI::IsMember({"f16", "int8"}));
  serve->add_flag("--no-verify", o.noVerify, "Skip hashing the weights at start-up");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    if (e.get_exit_code() == 0) {
      *exitCode = app.exit(e);
      return std::nullopt;
    }
    std::string what = e.what();
    if (what.rfind(": ", 0) == 0) // a hidden option's empty name (namedRange)
      what.erase(0, 2);
    std::fprintf(stderr, "error: %s (see --help)\n", what.c_str());
    *exitCode = 2;
    return std::nullopt;
  }
  o.bench = bench->parsed();
  o.serve = serve->parsed();
  o.precision = precision;
  o.exact = precision == "exact";
  o.kv = kv == "int8" ? kernels::KvType::I8 : kernels::KvType::F16;
  return o;
}

} // namespace mcc
