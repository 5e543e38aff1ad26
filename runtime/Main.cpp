// The command line of every generated executable:
//   NAME [-p TEXT | -f FILE | < stdin] [options]    generate
//   NAME --chat                                     interactive, multi-turn
//   NAME bench [-p 512] [-n 128] [--json]           speed figures
#include "compiler/import/Error.h"
#include "kernels/Kernels.h"
#include "runtime/Bandwidth.h"
#include "runtime/Forward.h"
#include "runtime/Loader.h"
#include "runtime/Sampler.h"
#include "runtime/chat/ChatTemplate.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/resource.h>
#include <thread>

#ifndef MCC_VERSION
#define MCC_VERSION "0.1.0"
#endif

using namespace mcc;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

long peakRssKiB() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

struct Session {
  const ModelDesc &m;
  Tokenizer tok;
  ThreadPool pool;
  Forward fwd;
  std::unique_ptr<Executor> gen; // the model's generated code, when it has some
  std::vector<int32_t> history;  // every token in the KV cache, in order

  Session(const LoadedModel &lm, int threads, int ctx, bool interpret)
      : m(lm.desc), tok(lm.desc.tokenizer), pool(threads), fwd(lm.desc, ctx, pool) {
    if (lm.code.text && !interpret)
      gen = std::make_unique<Executor>(fwd, lm.code);
  }

  bool isStop(int32_t id) const {
    for (int32_t s : m.tokenizer.stop_ids)
      if (s == id)
        return true;
    return false;
  }

  // Feeds tokens into the cache; returns the logits after the last one (or
  // after every one, with allLogits).
  const float *feed(const std::vector<int32_t> &ids, bool allLogits = false) {
    if (ids.empty())
      return nullptr;
    if (history.size() + ids.size() > size_t(fwd.context()))
      throw Error(cat("the context is full (", fwd.context(), " tokens); start again with a larger -c"));
    const float *logits = gen ? gen->forward(ids.data(), int(ids.size()), int(history.size()), allLogits)
                              : fwd.forward(ids.data(), int(ids.size()), int(history.size()), allLogits);
    history.insert(history.end(), ids.begin(), ids.end());
    return logits;
  }

  // Generates up to n tokens, streaming their text; stops at a stop token.
  int generate(const float *logits, int n, Sampler &s, std::ostream &out) {
    std::vector<float> buf(size_t(m.hp.vocab));
    int produced = 0;
    while (n < 0 || produced < n) {
      std::copy(logits, logits + m.hp.vocab, buf.begin());
      int32_t id = s.sample(buf.data(), int32_t(m.hp.vocab), history);
      ++produced;
      if (isStop(id))
        break;
      if (!tok.isControl(id))
        out << tok.decode(id) << std::flush;
      if (int(history.size()) >= fwd.context()) {
        out << std::flush;
        std::cerr << "\n[context full: " << fwd.context() << " tokens]\n";
        break;
      }
      logits = feed({id});
    }
    return produced;
  }
};

std::vector<int32_t> promptTokens(const Session &s, const std::string &text, bool raw) {
  std::string rendered = text;
  if (!raw && !s.m.tokenizer.chat_template.empty())
    rendered = renderChat(s.m.tokenizer, {{"user", text}}, true);
  std::vector<int32_t> ids;
  if (s.m.tokenizer.add_bos && s.m.tokenizer.bos >= 0 && (raw || s.m.tokenizer.chat_template.empty()))
    ids.push_back(s.m.tokenizer.bos);
  auto t = s.tok.encode(rendered);
  ids.insert(ids.end(), t.begin(), t.end());
  return ids;
}

int runBench(const LoadedModel &lm, int threads, bool interpret, int pp, int tg, bool asJson, Clock::time_point start) {
  const ModelDesc &m = lm.desc;
  Session s(lm, threads, pp + tg + 1, interpret);
  // A fixed prompt of ordinary tokens, as llama-bench uses.
  std::vector<int32_t> prompt(static_cast<size_t>(pp), 0);
  for (int i = 0; i < pp; ++i)
    prompt[size_t(i)] = int32_t((i * 7919 + 13) % std::max<int64_t>(1, std::min<int64_t>(m.hp.vocab, 30000)));
  auto t1 = Clock::now();
  const float *logits = s.feed(prompt);
  auto t2 = Clock::now();
  int32_t next = argmax(logits, int32_t(m.hp.vocab));
  auto t3 = Clock::now();
  for (int i = 0; i < tg; ++i) {
    logits = s.feed({next});
    next = argmax(logits, int32_t(m.hp.vocab));
  }
  auto t4 = Clock::now();
  double ppS = seconds(t1, t2), tgS = seconds(t3, t4);
  // Before the probe, whose buffer would count in it.
  double peakMiB = double(peakRssKiB()) / 1024.0;
  // 512 MiB: far more than any cache, little enough for a small box.
  double bw = readBandwidth(s.pool, uint64_t(512) << 20);
  double perToken = double(weightBytesPerToken(m));
  double limit = bw * 1e9 / perToken;
  nlohmann::ordered_json j = {
      {"model", m.name},
      {"isa", kernels::bestTable().isa},
      {"path", s.gen ? "generated code (" + lm.code.target + ")" : std::string("runtime forward pass")},
      {"threads", threads},
      {"load_s", seconds(start, t1)},
      {"pp_tokens", pp},
      {"pp_tok_s", pp / ppS},
      {"tg_tokens", tg},
      {"tg_tok_s", tg / tgS},
      {"ttft_s", seconds(start, t3)},
      {"peak_rss_mib", peakMiB},
      {"weight_mib_per_token", perToken / double(1 << 20)},
      {"bandwidth_gb_s", bw},
      {"tg_limit_tok_s", limit},
      {"tg_fraction_of_limit", tg / tgS / limit},
  };
  if (asJson) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("model        %s (%s, %d threads, %s)\n", m.name.c_str(), kernels::bestTable().isa, threads,
                j["path"].get<std::string>().c_str());
    std::printf("load         %.3f s\n", j["load_s"].get<double>());
    std::printf("pp%-4d       %.1f tok/s\n", pp, j["pp_tok_s"].get<double>());
    std::printf("tg%-4d       %.1f tok/s\n", tg, j["tg_tok_s"].get<double>());
    std::printf("ttft         %.3f s (start to first token after a %d-token prompt)\n", j["ttft_s"].get<double>(), pp);
    std::printf("peak rss     %.1f MiB\n", j["peak_rss_mib"].get<double>());
    std::printf("bandwidth    %.1f GB/s (read, %d threads); %.1f MiB of weights per token\n", bw, threads,
                perToken / double(1 << 20));
    std::printf("tg limit     %.1f tok/s at that bandwidth: tg%d is %.0f %% of it\n", limit, tg,
                100.0 * tg / tgS / limit);
  }
  return 0;
}

int runChat(Session &s, SamplerConfig sc, int n) {
  Sampler sampler(sc);
  std::vector<ChatMessage> messages;
  std::string previous; // the rendered conversation already in the cache
  std::string line;
  while (true) {
    std::cout << "> " << std::flush;
    if (!std::getline(std::cin, line))
      break;
    if (line.empty())
      continue;
    messages.push_back({"user", line});
    std::string rendered = renderChat(s.m.tokenizer, messages, true);
    // Only the new part of the conversation goes through the model: the
    // cache already holds everything before it.
    std::string delta = rendered.compare(0, previous.size(), previous) == 0 ? rendered.substr(previous.size()) : rendered;
    if (delta.size() == rendered.size() && !previous.empty())
      throw Error("the chat template re-renders earlier turns differently; cannot keep the cache");
    const float *logits = s.feed(s.tok.encode(delta));
    std::ostringstream reply;
    struct Tee : std::streambuf {
      std::streambuf *a, *b;
      int overflow(int c) override { a->sputc(char(c)); b->sputc(char(c)); return c; }
    } tee;
    tee.a = std::cout.rdbuf();
    tee.b = reply.rdbuf();
    std::ostream both(&tee);
    s.generate(logits, n, sampler, both);
    std::cout << "\n";
    messages.push_back({"assistant", reply.str()});
    // The reply's end-of-turn token is in the cache only if we fed it; the
    // template renders it, so feed what the template says came after.
    std::string withReply = renderChat(s.m.tokenizer, messages, false);
    std::string tail = withReply.substr(std::min(withReply.size(), rendered.size() + reply.str().size()));
    s.feed(s.tok.encode(tail));
    previous = withReply;
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  auto start = Clock::now();
  CLI::App app{"An LLM compiled by mcc: runs with nothing installed."};
  std::string prompt, promptFile;
  int n = 256, ctx = 0, threads = int(std::max(1u, std::thread::hardware_concurrency()));
  bool chat = false, raw = false, version = false, noVerify = false;
  SamplerConfig sc;
  sc.seed = uint64_t(std::chrono::system_clock::now().time_since_epoch().count());
  app.add_option("-p,--prompt", prompt, "Prompt text");
  app.add_option("-f,--file", promptFile, "Read the prompt from a file");
  app.add_option("-n,--n-predict", n, "Tokens to generate (-1: until a stop token or a full context)")
      ->check(CLI::Range(-1, 1 << 30));
  app.add_option("-c,--ctx-size", ctx, "Context size in tokens (default: the model's, at most 4096)")
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--temp", sc.temp, "Temperature (0: greedy)")->check(CLI::Range(0.0, 100.0));
  app.add_option("--top-k", sc.top_k, "Top-k (0: off)")->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", sc.top_p, "Top-p")->check(CLI::Range(0.0, 1.0));
  app.add_option("--min-p", sc.min_p, "Min-p")->check(CLI::Range(0.0, 1.0));
  app.add_option("--repeat-penalty", sc.repeat_penalty, "Repetition penalty over the last 64 tokens")
      ->check(CLI::Range(0.01, 100.0));
  app.add_option("--seed", sc.seed, "Random seed");
  app.add_option("-t,--threads", threads, "Threads")->check(CLI::Range(1, 1024));
  app.add_flag("--chat", chat, "Interactive multi-turn chat (the KV cache is kept across turns)");
  app.add_flag("--raw", raw, "Do not apply the chat template");
  app.add_flag("--version", version, "Print the model, its hash, mcc version and target ISA");
  app.add_flag("--no-verify", noVerify,
               "Skip hashing the weights at start-up (a corrupted file then goes undetected)");
  // Test hooks (hidden): teacher-forced logits and raw ids, so the tests
  // check this very executable against reference engines.
  std::string tokensArg, dumpLogits;
  app.add_option("--tokens", tokensArg, "Space-separated prompt token ids")->group("");
  app.add_option("--dump-logits", dumpLogits, "Write float32 logits of every --tokens position to FILE")->group("");
  // The runtime's own forward pass instead of the generated code (hidden:
  // for comparisons and figures).
  bool interpret = false;
  app.add_flag("--interpret", interpret, "Run the runtime's forward pass, not the generated code")->group("");
  int pp = 512, tg = 128;
  bool asJson = false;
  CLI::App *bench = app.add_subcommand("bench", "Measure prompt and generation speed");
  bench->add_option("-p,--n-prompt", pp, "Prompt tokens")->check(CLI::Range(1, 1 << 20));
  bench->add_option("-n,--n-gen", tg, "Generated tokens")->check(CLI::Range(1, 1 << 20));
  bench->add_option("-t,--threads", threads, "Threads")->check(CLI::Range(1, 1024));
  bench->add_flag("--json", asJson, "Print JSON");
  bench->add_flag("--no-verify", noVerify, "Skip hashing the weights at start-up");
  bench->add_flag("--interpret", interpret, "Run the runtime's forward pass, not the generated code");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    if (e.get_exit_code() == 0)
      return app.exit(e);
    std::fprintf(stderr, "error: %s (see --help)\n", e.what());
    return 2;
  }

  try {
    PayloadOptions po;
    po.verify = !noVerify;
    po.threads = unsigned(threads);
    auto lm = loadModel(selfPath(), po);
    const ModelDesc &m = lm->desc;
    if (version) {
      std::printf("%s\nhash %s\nmcc %s\nisa %s\ncode %s\nfrom %s (%s)\n", m.name.c_str(), lm->model_hash.c_str(),
                  MCC_VERSION, kernels::bestTable().isa,
                  lm->code.text ? ("generated for " + lm->code.target).c_str() : "runtime forward pass",
                  m.source.c_str(), m.source_format.c_str());
      return 0;
    }
    if (*bench)
      return runBench(*lm, threads, interpret, pp, tg, asJson, start);
    if (ctx <= 0)
      ctx = int(std::min<int64_t>(m.hp.context, 4096));
    Session s(*lm, threads, ctx, interpret);
    if (chat)
      return runChat(s, sc, n);
    if (!promptFile.empty()) {
      std::ifstream in(promptFile, std::ios::binary);
      if (!in)
        throw Error(cat(promptFile, ": cannot read the prompt file"));
      prompt.assign(std::istreambuf_iterator<char>(in), {});
    } else if (prompt.empty()) {
      prompt.assign(std::istreambuf_iterator<char>(std::cin), {});
    }
    if (!tokensArg.empty()) {
      std::vector<int32_t> ids;
      std::istringstream in(tokensArg);
      for (int64_t v; in >> v;) {
        if (v < 0 || v >= m.hp.vocab)
          throw Error(cat("--tokens: ", v, " is not a token id"));
        ids.push_back(int32_t(v));
      }
      if (!dumpLogits.empty()) {
        std::ofstream out(dumpLogits, std::ios::binary);
        out.write(reinterpret_cast<const char *>(s.feed(ids, true)),
                  std::streamsize(ids.size() * size_t(m.hp.vocab) * sizeof(float)));
        if (!out)
          throw Error(cat(dumpLogits, ": cannot write the logits"));
        return 0;
      }
      Sampler sampler(sc);
      const float *logits = s.feed(ids);
      std::vector<float> buf(size_t(m.hp.vocab));
      for (int i = 0; i < n && int(s.history.size()) < s.fwd.context(); ++i) {
        std::copy(logits, logits + m.hp.vocab, buf.begin());
        int32_t id = sampler.sample(buf.data(), int32_t(m.hp.vocab), s.history);
        std::cout << (i ? " " : "") << id;
        logits = s.feed({id});
      }
      std::cout << "\n";
      return 0;
    }
    Sampler sampler(sc);
    const float *logits = s.feed(promptTokens(s, prompt, raw));
    s.generate(logits, n, sampler, std::cout);
    std::cout << "\n";
  } catch (const Error &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
