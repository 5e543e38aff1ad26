#include "runtime/cli/Bench.h"
#include "kernels/Kernels.h"
#include "runtime/Bandwidth.h"
#include "runtime/HugePages.h"
#include "runtime/cli/Session.h"
#include "runtime/Executor.h"
#include "runtime/Forward.h"

#include <cstdio>
#include <iostream>
#include <memory>
#include <span>
#include <nlohmann/json.hpp>
#include <sys/resource.h>

namespace mcc {

namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

long peakRssKiB() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// Tokens a sequence is fed: ordinary ids, different per sequence.
std::vector<int32_t> benchTokens(const ModelDesc &m, int n, int seed) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    t[size_t(i)] = int32_t((i * 7919 + 13 + seed * 104729) % std::max<int64_t>(1, std::min<int64_t>(m.hp.vocab, 30000)));
  return t;
}

struct StreamFigures {
  double one, many; // generated tok/s: one sequence alone, all of them together
};

// What the server's steps do: `streams` sequences, each `depth` positions
// deep, decode `tg` tokens each, one row per sequence in every pass (the
// runtime's batch), against one of them decoding alone the way the server
// runs a lone request (the generated code when there is some).
StreamFigures measureStreams(const LoadedModel &lm, ThreadPool &pool, int streams, int depth, int tg, bool interpret,
                             bool exact, kernels::KvType kv) {
  const ModelDesc &m = lm.desc;
  int ctx = depth + tg + 1;
  checkKvFits(m.hp, ctx, streams, kv);
  Forward fwd(m, ctx, pool, streams);
  if (exact)
    fwd.setPrecision(kernels::Precision::Exact);
  fwd.setKvType(kv);
  std::unique_ptr<Executor> gen;
  if (lm.code.text && !interpret)
    gen = std::make_unique<Executor>(fwd, lm.code);
  std::vector<int32_t> next(static_cast<size_t>(streams));
  int32_t vocab = int32_t(m.hp.vocab);
  for (int k = 0; k < streams; ++k) {
    std::vector<int32_t> p = benchTokens(m, depth, k);
    fwd.setSlot(k);
    next[size_t(k)] = argmax(fwd.forward(p.data(), depth, 0), vocab);
  }
  fwd.setSlot(0);
  int32_t t = next[0];
  auto a = Clock::now();
  for (int i = 0; i < tg; ++i)
    t = argmax(gen ? gen->forward(&t, 1, depth + i, false) : fwd.forward(&t, 1, depth + i), vocab);
  auto b = Clock::now();
  std::vector<int> slot(static_cast<size_t>(streams)), pos(slot.size());
  std::vector<uint8_t> want(slot.size(), 1);
  for (int k = 0; k < streams; ++k)
    slot[size_t(k)] = k;
  for (int i = 0; i < tg; ++i) {
    std::fill(pos.begin(), pos.end(), depth + i);
    const float *logits = fwd.forwardRows(next.data(), slot.data(), pos.data(), want.data(), streams);
    for (int k = 0; k < streams; ++k)
      next[size_t(k)] = argmax(logits + size_t(k) * size_t(vocab), vocab);
  }
  auto c = Clock::now();
  return {tg / seconds(a, b), double(streams) * tg / seconds(b, c)};
}

} // namespace

int runBench(const LoadedModel &lm, const RunOptions &o, Clock::time_point start) {
  const ModelDesc &m = lm.desc;
  int pp = o.pp, tg = o.tg, threads = o.threads;
  Session s(lm, threads, pp + tg + 1, o.interpret, o.exact, o.kv);
  // A fixed prompt of ordinary tokens, as llama-bench uses.
  std::vector<int32_t> prompt = benchTokens(m, pp, 0);
  auto t1 = Clock::now();
  const float *logits = s.feed(prompt);
  auto t2 = Clock::now();
  int32_t next = argmax(logits, int32_t(m.hp.vocab));
  auto t3 = Clock::now();
  // Generation from an empty cache, as llama-bench's tgN: a figure of the
  // model's decode step, not of attention over this prompt.
  s.history.clear();
  next = prompt.empty() ? next : prompt[0];
  auto t3g = Clock::now();
  for (int i = 0; i < tg; ++i) {
    logits = s.feed({next});
    next = argmax(logits, int32_t(m.hp.vocab));
  }
  auto t4 = Clock::now();
  double ppS = seconds(t1, t2), tgS = seconds(t3g, t4);
  // Before the probe, whose buffer would count in it.
  double peakMiB = double(peakRssKiB()) / 1024.0;
  // The weights' memory: the unpacked copy of zstd weights, else the mapped
  // file (the runtime's code is a small part of it).
  std::span<const uint8_t> weights =
      lm.unpacked.size() ? std::span<const uint8_t>(lm.unpacked.data(), lm.unpacked.size()) : lm.file->bytes();
  const uint64_t wn = weights.size();
  int64_t huge = hugePageBytes(weights.data(), wn);
  // 512 MiB: far more than any cache, little enough for a small box.
  double bw = readBandwidth(s.pool, uint64_t(512) << 20);
  double perToken = double(weightBytesPerToken(m));
  double limit = bw * 1e9 / perToken;
  nlohmann::ordered_json j = {
      {"model", m.name},
      {"isa", kernels::bestTable().isa},
      {"path", s.gen ? "generated code (" + lm.code.target + ")" : std::string("runtime forward pass")},
      {"threads", threads},
      {"precision", o.exact ? "exact" : "fast"},
      {"kv_cache", o.kv == kernels::KvType::I8 ? "int8" : "f16"},
      {"load_s", seconds(start, t1)},
      {"pp_tokens", pp},
      {"pp_tok_s", pp / ppS},
      {"tg_tokens", tg},
      {"tg_tok_s", tg / tgS},
      {"ttft_s", seconds(start, t3)},
      {"peak_rss_mib", peakMiB},
      {"weights_mapping_mib", double(wn) / double(1 << 20)},
      {"huge_page_mib", huge < 0 ? -1.0 : double(huge) / double(1 << 20)},
      {"weight_mib_per_token", perToken / double(1 << 20)},
      {"bandwidth_gb_s", bw},
      {"tg_limit_tok_s", limit},
      {"tg_fraction_of_limit", tg / tgS / limit},
  };
  kernels::JitStats jit = kernels::jitStats();
  if (jit.kernels > 0) {
    j["jit_kernels"] = jit.kernels;
    j["jit_kib"] = double(jit.bytes) / 1024.0;
    j["jit_ms"] = jit.ms;
  }
  if (o.streams > 0) {
    StreamFigures f = measureStreams(lm, s.pool, o.streams, o.depth, tg, o.interpret, o.exact, o.kv);
    j["streams"] = o.streams;
    j["stream_depth"] = o.depth;
    j["tg_one_stream_tok_s"] = f.one;
    j["tg_streams_tok_s"] = f.many;
  }
  if (o.benchJson) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("model        %s (%s, %d threads, %s)\n", m.name.c_str(), kernels::bestTable().isa, threads,
              j["path"].get<std::string>().c_str());
  std::printf("load         %.3f s\n", j["load_s"].get<double>());
  if (jit.kernels > 0)
    std::printf("jit          %d kernels, %.1f KiB, generated in %.1f ms at start-up (in load)\n", jit.kernels,
                double(jit.bytes) / 1024.0, jit.ms);
  std::printf("pp%-4d       %.1f tok/s\n", pp, j["pp_tok_s"].get<double>());
  std::printf("tg%-4d       %.1f tok/s (from an empty cache)\n", tg, j["tg_tok_s"].get<double>());
  std::printf("ttft         %.3f s (start to first token after a %d-token prompt)\n", j["ttft_s"].get<double>(), pp);
  std::printf("peak rss     %.1f MiB\n", j["peak_rss_mib"].get<double>());
  if (huge >= 0)
    std::printf("pages        %.0f of the weights' %.0f MiB in 2 MiB pages%s\n", double(huge) / double(1 << 20),
                double(wn) / double(1 << 20),
                huge * 2 < int64_t(wn) ? " (few: a copy cached in small pages decodes slower; docs/shipping.md)" : "");
  std::printf("bandwidth    %.1f GB/s (read, %d threads); %.1f MiB of weights per token\n", bw, threads,
              perToken / double(1 << 20));
  std::printf("tg limit     %.1f tok/s at that bandwidth: tg%d is %.0f %% of it\n", limit, tg,
              100.0 * tg / tgS / limit);
  if (o.streams > 0)
    std::printf("streams      %d sequences at %d positions, tg%d each: %.1f tok/s together, %.2fx one alone (%.1f "
                "tok/s)\n",
                o.streams, o.depth, tg, j["tg_streams_tok_s"].get<double>(),
                j["tg_streams_tok_s"].get<double>() / j["tg_one_stream_tok_s"].get<double>(),
                j["tg_one_stream_tok_s"].get<double>());
  return 0;
}

} // namespace mcc
