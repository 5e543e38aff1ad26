#include "format/Integrity.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace mcc {

uint64_t hashBytes(const void *p, uint64_t n) { return XXH3_64bits(p, size_t(n)); }

ChunkHasher::ChunkHasher(uint64_t chunkBytes) : chunk_(chunkBytes), state_(XXH3_createState()) {
  XXH3_64bits_reset(static_cast<XXH3_state_t *>(state_));
}

ChunkHasher::~ChunkHasher() { XXH3_freeState(static_cast<XXH3_state_t *>(state_)); }

void ChunkHasher::update(const uint8_t *p, uint64_t n) {
  auto *s = static_cast<XXH3_state_t *>(state_);
  while (n) {
    uint64_t k = std::min(n, chunk_ - inChunk_);
    XXH3_64bits_update(s, p, size_t(k));
    p += k, n -= k, inChunk_ += k;
    if (inChunk_ == chunk_) {
      hashes_.push_back(XXH3_64bits_digest(s));
      XXH3_64bits_reset(s);
      inChunk_ = 0;
    }
  }
}

std::vector<uint64_t> ChunkHasher::finish() {
  if (inChunk_) {
    hashes_.push_back(XXH3_64bits_digest(static_cast<XXH3_state_t *>(state_)));
    inChunk_ = 0;
  }
  return std::move(hashes_);
}

std::string modelHash(const std::vector<uint64_t> &chunkHashes) {
  std::vector<uint8_t> bytes;
  for (uint64_t h : chunkHashes)
    for (int i = 0; i < 8; ++i)
      bytes.push_back(uint8_t(h >> (8 * i)));
  XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", (unsigned long long)h.high64, (unsigned long long)h.low64);
  return buf;
}

void keepFirst(std::atomic<int64_t> &first, int64_t i) {
  int64_t cur = first.load();
  while ((cur < 0 || i < cur) && !first.compare_exchange_weak(cur, i)) {
  }
}

int64_t firstBadChunk(const uint8_t *data, uint64_t size, uint64_t chunkBytes, const std::vector<uint64_t> &hashes,
                      unsigned threads) {
  size_t n = hashes.size();
  std::atomic<size_t> next{0};
  std::atomic<int64_t> bad{-1};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      uint64_t at = i * chunkBytes, len = std::min(chunkBytes, size - at);
      if (XXH3_64bits(data + at, size_t(len)) != hashes[i])
        keepFirst(bad, int64_t(i));
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < std::max(1u, std::min<unsigned>(threads, unsigned(n))); ++t)
    pool.emplace_back(work);
  work();
  for (auto &t : pool)
    t.join();
  return bad;
}

} // namespace mcc
