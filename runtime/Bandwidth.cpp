#include "runtime/Bandwidth.h"
#include "format/Error.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sys/mman.h>

namespace mcc {

uint64_t weightBytesPerToken(const ModelDesc &m) {
  uint64_t n = 0;
  for (const Weight &w : m.weights) {
    if (w.name == "token_embd" && !m.hp.tie_embeddings)
      n += w.storedBytes() / uint64_t(std::max<int64_t>(1, w.rows()));
    else
      n += w.storedBytes();
  }
  return n;
}

double readBandwidth(ThreadPool &pool, uint64_t bytes) {
  void *p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw Error(cat("bandwidth probe: cannot allocate ", bytes >> 20, " MiB"));
  // In 2 MiB pages where the kernel gives them, as the weights are kept
  // (OwnedBytes, the loader's madvise): the limit is then for the same page
  // walks. With 4 KiB pages 1 GiB read 1-11 % slower (5 turns, 2 threads:
  // 33.4 against 34.9 GB/s on average), and decoding had looked faster than
  // its limit.
  ::madvise(p, bytes, MADV_HUGEPAGE);
  auto *words = static_cast<uint64_t *>(p);
  const uint64_t n = bytes / 8;
  auto slice = [&](int t, int nt, uint64_t &a, uint64_t &b) {
    a = n * uint64_t(t) / uint64_t(nt);
    b = n * uint64_t(t + 1) / uint64_t(nt);
  };
  // Each thread touches its own slice first, so its pages are local to it.
  pool.run([&](int t, int nt) {
    uint64_t a, b;
    slice(t, nt, a, b);
    for (uint64_t i = a; i < b; ++i)
      words[i] = i;
  });
  std::vector<uint64_t> sums(size_t(pool.size()));
  double best = 0;
  for (int pass = 0; pass < 4; ++pass) {
    auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int t, int nt) {
      uint64_t a, b;
      slice(t, nt, a, b);
      // Four independent sums: the loop is limited by loads, not by adds.
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = a;
      for (; i + 4 <= b; i += 4)
        s0 += words[i], s1 += words[i + 1], s2 += words[i + 2], s3 += words[i + 3];
      for (; i < b; ++i)
        s0 += words[i];
      sums[size_t(t)] = s0 + s1 + s2 + s3;
    });
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, double(bytes) / s / 1e9);
  }
  // Keep the sums observable so the reads are not optimized away.
  volatile uint64_t sink = 0;
  for (uint64_t s : sums)
    sink = sink + s;
  ::munmap(p, bytes);
  return best;
}

} // namespace mcc
