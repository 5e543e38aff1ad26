// Every generated executable starts here: parse the flags, map the model
// behind the code, and run what was asked (cli/Options.h lists the modes).
#include "format/Error.h"
#include "kernels/Kernels.h"
#include "runtime/Loader.h"
#include "runtime/ThreadPool.h"
#include "runtime/cli/Bench.h"
#include "runtime/cli/ChatLoop.h"
#include "runtime/cli/Options.h"
#include "runtime/cli/Session.h"
#include "runtime/cli/TestHooks.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <new>

#ifndef MCC_VERSION
#define MCC_VERSION "0.1.0"
#endif

using namespace mcc;

namespace {

int run(const RunOptions &opt, std::chrono::steady_clock::time_point start) {
  RunOptions o = opt;
  if (o.threads > ThreadPool::cores())
    std::fprintf(stderr, "warning: -t %d is more threads than the %d cores this process may use; they take turns "
                 "(slower than -t %d)\n", o.threads, ThreadPool::cores(), ThreadPool::cores());
  PayloadOptions po;
  po.verify = !o.noVerify;
  po.threads = unsigned(o.threads);
  auto lm = loadModel(selfPath(), po);
  const ModelDesc &m = lm->desc;
  if (o.precision.empty())
    o.exact = lm->exact;
  if (o.version) {
    std::string carried;
    for (const std::string &t : lm->targets)
      carried += (carried.empty() ? "" : ", ") + t;
    std::string code = lm->code.text ? cat("generated for ", lm->code.target, " (carries ", carried, ")")
                                     : std::string("runtime forward pass");
    std::printf("%s\nhash %s\nmcc %s\nisa %s\ncode %s\nfrom %s (%s)\n", m.name.c_str(), lm->model_hash.c_str(),
                MCC_VERSION, kernels::bestTable().isa, code.c_str(), m.source.c_str(), m.source_format.c_str());
    return 0;
  }
  if (o.bench)
    return runBench(*lm, o, start);
  if (o.ctx <= 0)
    o.ctx = int(std::min<int64_t>(m.hp.context, 4096));
  if (o.serve) {
    checkKvFits(m.hp, o.ctx, o.server.parallel, o.kv);
    o.server.ctx = o.ctx;
    o.server.threads = o.threads;
    o.server.exact = o.exact;
    o.server.kv = o.kv;
    return runServe(*lm, o.server);
  }
  else if (m.hp.context > 0 && o.ctx > m.hp.context)
    std::fprintf(stderr, "warning: -c %d is above the %lld tokens %s was trained on; text past that may degrade\n",
                 o.ctx, (long long)m.hp.context, m.name.c_str());
  Session s(*lm, o.threads, o.ctx, o.interpret, o.exact, o.kv);
  if (o.chat)
    return runChat(s, o.sampler, o.n);
  if (!o.tokens.empty())
    return runTokens(s, o);
  std::string prompt = o.prompt;
  if (!o.promptFile.empty()) {
    std::ifstream in(o.promptFile, std::ios::binary);
    if (!in)
      throw Error(cat(o.promptFile, ": cannot read the prompt file"));
    prompt.assign(std::istreambuf_iterator<char>(in), {});
  } else if (prompt.empty()) {
    prompt.assign(std::istreambuf_iterator<char>(std::cin), {});
  }
  Sampler sampler(o.sampler);
  const float *logits = s.feed(s.promptTokens(prompt, o.raw));
  s.generate(logits, o.n, sampler, std::cout);
  std::cout << "\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  auto start = std::chrono::steady_clock::now();
  int code = 0;
  std::optional<RunOptions> o = parseOptions(argc, argv, &code);
  if (!o)
    return code;
  try {
    return run(*o, start);
  } catch (const Error &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
  } catch (const std::bad_alloc &) {
    std::fprintf(stderr, "error: out of memory (try a smaller -c, or fewer threads)\n");
  }
  return 1;
}
