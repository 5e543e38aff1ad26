// mcc-kernel-bench: how fast one kernel table's micro-kernels run on this
// machine, apart from any model. It is for whoever tunes them. The figures in
// docs/speed.md's kernel tables come from it, and the same runs can be
// repeated on another box or after a change to a tile. It is a benchmark, not
// a test: nothing is compared, and it exits 0 after printing (2 on a bad flag).
//
//   panel tiles in cache: one thread runs a product whose weights fit in L2
//     again and again. This is the tile's arithmetic, in ns per 16 x 32
//     weights per token.
//   panel tiles from memory: every thread runs its half of a matrix far
//     larger than the caches. Beside them, plain reads of the same size on
//     the same threads: this host's memory speed moves from minute to
//     minute, and only figures taken together compare.
//   attention: one job (G query heads over n cached positions) in cache,
//     f16 and int8 caches.
#include "format/Half.h"
#include "format/Panel.h"
#include "kernels/Kernels.h"
#include "runtime/Bandwidth.h"
#include "runtime/HugePages.h"
#include "runtime/OwnedBytes.h"
#include "runtime/ThreadPool.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace mcc;
using namespace mcc::kernels;

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The best time of `rounds` rounds, each about `seconds` of calls to f.
template <class F> double bestTime(F &&f, int rounds, double seconds) {
  f(); // first touch: code, caches, the JIT's tiles
  double t0 = now();
  f();
  const double once = std::max(now() - t0, 1e-7);
  const int calls = std::max(1, int(seconds / once));
  double best = 1e30;
  for (int r = 0; r < rounds; ++r) {
    t0 = now();
    for (int i = 0; i < calls; ++i)
      f();
    best = std::min(best, (now() - t0) / calls);
  }
  return best;
}

struct Format {
  const char *name;
  WeightFormat f;
};
const Format kFormats[] = {{"q4_0", WeightFormat::Q4_0},
                           {"q4_1", WeightFormat::Q4_1},
                           {"q8_0", WeightFormat::Q8_0},
                           {"pk4_128", WeightFormat::PK4_128}};

// A row-major matrix of `rows` rows and K columns in format f. The quantized
// values are random, and the scales and offsets lie in the range of real
// checkpoints: denormal or huge floats would time something else.
std::vector<uint8_t> randomRows(WeightFormat f, int64_t rows, int64_t K, std::mt19937 &rng) {
  const BlockShape s = blockShape(f);
  const int64_t blocks = rows * (K / s.weights);
  std::vector<uint8_t> w(size_t(blocks * s.bytes));
  for (auto &b : w)
    b = uint8_t(rng());
  std::uniform_real_distribution<float> scale(0.001f, 0.1f);
  for (int64_t i = 0; i < blocks; ++i) {
    uint8_t *blk = &w[size_t(i * s.bytes)];
    if (s.header == 8) { // f32 scale and offset (PK4, PK4_128)
      float d = scale(rng), m = -scale(rng);
      std::memcpy(blk, &d, 4);
      std::memcpy(blk + 4, &m, 4);
    } else {
      uint16_t d = floatToFp16(scale(rng)), m = floatToFp16(-scale(rng));
      std::memcpy(blk, &d, 2);
      if (s.header == 4)
        std::memcpy(blk + 2, &m, 2);
    }
  }
  return w;
}

std::vector<uint8_t> randomPanels(WeightFormat f, int64_t rows, int64_t K, std::mt19937 &rng) {
  std::vector<uint8_t> rm = randomRows(f, rows, K, rng), p(panelBytes(f, rows, K));
  interleaveRows(f, rm.data(), rows, K, p.data());
  return p;
}

std::vector<float> randomActs(int64_t n, std::mt19937 &rng) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto &v : x)
    v = g(rng);
  return x;
}

const char *passes(bool decode) { return decode ? "2 passes" : "1 pass  "; }

// The (passes, tokens) pairs the runtime uses: two passes for one to three
// rows (decoding), one for four rows and more (a server's step, prompts).
struct Shape {
  bool decode;
  int tokens;
};
const Shape kShapes[] = {{true, 1}, {false, 4}, {false, 8}, {true, 4}};

void inCache(const KernelTable &t, int rounds, double seconds) {
  // SmolLM2's gate/up shape; for blocks of 128, the nearest K below.
  const int64_t N = 768, kSmol = 576;
  std::printf("panel tiles, weights in cache (%lld rows of %lld weights, one thread): ns per 16 x 32 weights per "
              "token, GB/s of weights\n",
              (long long)N, (long long)kSmol);
  std::mt19937 rng(1);
  for (const Format &fm : kFormats) {
    const int64_t K = kSmol / blockShape(fm.f).weights * blockShape(fm.f).weights;
    std::vector<uint8_t> w = randomPanels(fm.f, N, K, rng);
    for (const Shape &sh : kShapes) {
      PanelRun run = panelRun(t, fm.f, sh.decode);
      if (!run || !t.panel_prepare) {
        std::printf("  %-8s %s %d tokens  none in this table\n", fm.name, passes(sh.decode), sh.tokens);
        continue;
      }
      std::vector<float> x = randomActs(sh.tokens * K, rng), y(size_t(sh.tokens * N));
      QuantizedRows a;
      t.panel_prepare(x.data(), K, sh.tokens, sh.decode, a);
      double s = bestTime([&] { run(w.data(), a, y.data(), N, 0, N); }, rounds, seconds);
      double tiles = double(N) / kPanelRows * double(K) / 32;
      std::printf("  %-8s %s %d token%s %8.2f ns %7.1f GB/s%s\n", fm.name, passes(sh.decode), sh.tokens,
                  sh.tokens > 1 ? "s" : " ", s * 1e9 / tiles / sh.tokens, double(w.size()) / s / 1e9,
                  K == kSmol ? "" : (" (K " + std::to_string(K) + ")").c_str());
    }
  }
}

void fromMemory(const KernelTable &t, ThreadPool &pool, uint64_t bytes, int rounds) {
  const int64_t K = 1536; // the down projection's columns in SmolLM2
  std::printf("panel tiles, weights from memory (%llu MiB, %d thread%s, each its half of the rows): GB/s of "
              "weights\n",
              (unsigned long long)(bytes >> 20), pool.size(), pool.size() > 1 ? "s" : "");
  // The probe `bench` prints, on the same threads in the same minute.
  std::printf("  plain reads                %7.1f GB/s\n", readBandwidth(pool, bytes));
  std::mt19937 rng(2);
  for (WeightFormat f : {WeightFormat::Q4_1, WeightFormat::Q4_0}) {
    const char *name = f == WeightFormat::Q4_1 ? "q4_1" : "q4_0";
    // 256 random rows repeated to fill the size: panels are independent,
    // and writing gigabytes of random numbers would take longer than the runs.
    const int64_t unitRows = 256;
    std::vector<uint8_t> unit = randomPanels(f, unitRows, K, rng);
    const int64_t units = std::max<int64_t>(1, int64_t(bytes / unit.size())), N = units * unitRows;
    // In 2 MiB pages where the kernel gives them, as the runtime keeps its
    // weights: with 4 KiB pages the page walks, not the memory, can bound a
    // stream (docs/speed.md).
    OwnedBytes w(unit.size() * size_t(units), "the kernel benchmark's weights");
    for (int64_t u = 0; u < units; ++u)
      std::memcpy(w.data() + size_t(u) * unit.size(), unit.data(), unit.size());
    if (f == WeightFormat::Q4_1) {
      int64_t huge = hugePageBytes(w.data(), w.size());
      if (huge >= 0)
        std::printf("  (weights: %lld of %llu MiB in 2 MiB pages)\n", (long long)(huge >> 20),
                    (unsigned long long)(w.size() >> 20));
    }
    for (const Shape &sh : {Shape{true, 1}, Shape{false, 4}}) {
      PanelRun run = panelRun(t, f, sh.decode);
      if (!run || !t.panel_prepare)
        continue;
      std::vector<float> x = randomActs(sh.tokens * K, rng), y(size_t(sh.tokens * N));
      QuantizedRows a;
      t.panel_prepare(x.data(), K, sh.tokens, sh.decode, a);
      // Whole panels to each thread: a share starting inside a panel
      // computes rows it does not store.
      const int64_t panels = N / kPanelRows;
      double s = bestTime(
          [&] {
            pool.run([&](int i, int n) {
              int64_t p0 = panels * i / n, p1 = panels * (i + 1) / n;
              run(w.data(), a, y.data(), N, p0 * kPanelRows, p1 * kPanelRows);
            });
          },
          rounds, 0.0);
      std::printf("  %-8s %s %d token%s %7.1f GB/s\n", name, passes(sh.decode), sh.tokens, sh.tokens > 1 ? "s" : " ",
                  double(w.size()) / s / 1e9);
    }
  }
}

void attention(const KernelTable &t, int rounds, double seconds) {
  const int64_t hd = 64;
  std::printf("attention, one job in cache (%lld dims a head): us a job, ns a position\n", (long long)hd);
  std::mt19937 rng(3);
  for (int64_t G : {1, 3, 7})
    for (int64_t n : {224, 2048}) {
      const int64_t blocks = (n + kKeyBlock - 1) / kKeyBlock;
      std::vector<float> keys = randomActs(blocks * kKeyBlock * hd, rng), vals = randomActs(n * hd, rng);
      std::vector<float> q = randomActs(G * hd, rng), out(size_t(G * hd)), scores(size_t(G * n));
      const float scale = 1.0f / std::sqrt(float(hd));
      // f16: keys in blocks with the positions in the lanes (keyIndex).
      std::vector<uint16_t> k16(size_t(blocks * kKeyBlock * hd)), v16(size_t(n * hd));
      for (int64_t p = 0; p < blocks * kKeyBlock; ++p)
        for (int64_t e = 0; e < hd; ++e)
          k16[size_t(keyIndex(p, e, hd))] = floatToFp16(keys[size_t(p * hd + e)]);
      for (int64_t i = 0; i < n * hd; ++i)
        v16[size_t(i)] = floatToFp16(vals[size_t(i)]);
      // One cache type's job, timed and printed.
      auto timeJob = [&](const char *cache, auto &&job) {
        double s = bestTime(job, rounds, seconds);
        std::printf("  %-5s G=%lld %5lld positions %8.2f us %6.2f ns\n", cache, (long long)G, (long long)n, s * 1e6,
                    s * 1e9 / double(n));
      };
      timeJob("f16", [&] {
        t.attend(q.data(), G, k16.data(), 0, v16.data(), hd, n, hd, scale, scores.data(), out.data(), nullptr,
                 nullptr, 0);
      });
      if (!t.attend_i8)
        continue;
      const int64_t kb = keyBlockBytes(KvType::I8, hd), vr = valueRowBytes(KvType::I8, hd);
      std::vector<int8_t> k8(size_t(blocks * kb)), v8(size_t(n * vr));
      for (int64_t p = 0; p < blocks * kKeyBlock; ++p) {
        int8_t *blk = &k8[size_t(p / kKeyBlock * kb)];
        quantizeKv(&keys[size_t(p * hd)], hd, blk + p % kKeyBlock, kKeyBlock,
                   reinterpret_cast<uint8_t *>(blk + kKeyBlock * hd) + 4 * (p % kKeyBlock), kKeyBlock);
      }
      for (int64_t p = 0; p < n; ++p)
        quantizeKv(&vals[size_t(p * hd)], hd, &v8[size_t(p * vr)], 1, reinterpret_cast<uint8_t *>(&v8[size_t(p * vr + hd)]),
                   1);
      timeJob("int8", [&] {
        t.attend_i8(q.data(), G, k8.data(), 0, v8.data(), vr, n, hd, scale, scores.data(), out.data(), nullptr,
                    nullptr, 0);
      });
    }
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"mcc-kernel-bench: the micro-kernels' speed on this machine (a benchmark: prints figures, "
               "compares nothing)"};
  std::string table;
  int threads = ThreadPool::cores();
  int memoryMiB = 256;
  bool quick = false;
  app.add_option("--table", table, "a kernel table by name (default: the one the runtime picks)");
  app.add_option("--threads", threads, "threads for the from-memory runs")->check(CLI::Range(1, 256));
  app.add_option("--memory", memoryMiB, "MiB of weights for the from-memory runs")->check(CLI::Range(16, 65536));
  app.add_flag("--quick", quick, "fewer and shorter rounds (a smoke run, figures rough)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    std::fprintf(stderr, "mcc-kernel-bench: %s\n", e.what());
    return 2;
  }

  const KernelTable *t = &bestTable();
  if (!table.empty()) {
    t = nullptr;
    std::string names;
    for (const KernelTable *c : availableTables()) {
      names += std::string(names.empty() ? "" : ", ") + c->isa;
      if (table == c->isa)
        t = c;
    }
    if (!t) {
      std::fprintf(stderr, "mcc-kernel-bench: --table %s: this CPU runs %s\n", table.c_str(), names.c_str());
      return 2;
    }
  }
  const int rounds = quick ? 2 : 7;
  const double seconds = quick ? 0.002 : 0.02;
  std::printf("table        %s\n", t->isa);
  inCache(*t, rounds, seconds);
  ThreadPool pool(threads);
  fromMemory(*t, pool, uint64_t(quick ? 64 : memoryMiB) << 20, quick ? 1 : 5);
  attention(*t, rounds, seconds);
  return 0;
}
