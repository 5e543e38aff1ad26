// What proves an executable holds the model mcc wrote into it: a 64-bit
// XXH3 of every fixed-size chunk of the weight data (as unpacked, so raw and
// zstd builds of one model agree), a model hash over those chunk hashes, and
// (in the payload trailer) a hash of the header. Verifying reads every
// weight byte once: ~25 GB/s per core here, so it runs by default.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace mcc {

uint64_t hashBytes(const void *p, uint64_t n);

// The chunk hashes of data[0, size) in chunks of chunkBytes (the last one
// shorter), written as it streams by: the packer never holds the whole data.
class ChunkHasher {
public:
  explicit ChunkHasher(uint64_t chunkBytes);
  ~ChunkHasher();
  ChunkHasher(const ChunkHasher &) = delete;
  ChunkHasher &operator=(const ChunkHasher &) = delete;
  void update(const uint8_t *p, uint64_t n);
  std::vector<uint64_t> finish();
  uint64_t chunkBytes() const { return chunk_; }

private:
  uint64_t chunk_, inChunk_ = 0;
  void *state_; // XXH3_state_t, kept out of this header
  std::vector<uint64_t> hashes_;
};

// 32 hex digits naming the model's content (weights and code).
std::string modelHash(const std::vector<uint64_t> &chunkHashes);

// Lowers `first` to i unless it holds a lower index already (-1: none yet),
// so a check spread over threads names the same chunk whatever the timing.
void keepFirst(std::atomic<int64_t> &first, int64_t i);

// The index of the first chunk of data whose hash differs from hashes[i],
// or -1; hashes every chunk on up to `threads` threads.
int64_t firstBadChunk(const uint8_t *data, uint64_t size, uint64_t chunkBytes, const std::vector<uint64_t> &hashes,
                      unsigned threads);

} // namespace mcc
