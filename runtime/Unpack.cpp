#include "runtime/Unpack.h"
#include "format/Error.h"
#include "format/Integrity.h"

#include <algorithm>
#include <atomic>
#include <thread>

#ifndef MCC_NO_ZSTD
#include <zstd.h>
#endif

namespace mcc {

#ifdef MCC_NO_ZSTD
bool haveZstd() { return false; }
OwnedBytes unpackZstd(const uint8_t *, uint64_t, uint64_t, const std::vector<PackedChunk> &, const ChunkHashes &,
                      unsigned, const std::string &path, int64_t *) {
  throw Error(cat(path, ": weights are zstd-packed, and this runtime was built without zstd"));
}
#else
bool haveZstd() { return true; }

OwnedBytes unpackZstd(const uint8_t *packed, uint64_t packedSize, uint64_t rawSize,
                      const std::vector<PackedChunk> &chunks, const ChunkHashes &check, unsigned threads,
                      const std::string &path, int64_t *badChunk) {
  // Validate the whole table before any thread starts.
  if (chunks.size() != check.hashes.size())
    fail(path, "packed weights: ", chunks.size(), " chunks but ", check.hashes.size(), " chunk hashes: corrupted");
  uint64_t at = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const PackedChunk &c = chunks[i];
    if (c.offset > packedSize || c.packed_bytes > packedSize - c.offset || c.raw_bytes > rawSize - at)
      fail(path, "packed weights: chunk ", i, " lies outside the data: truncated or corrupted");
    if (c.raw_bytes != std::min(check.chunk_bytes, rawSize - at))
      fail(path, "packed weights: chunk ", i, " is not a hashed chunk's size: corrupted");
    at += c.raw_bytes;
  }
  if (at != rawSize)
    fail(path, "packed weights: the chunks hold ", at, " bytes, the header says ", rawSize);
  OwnedBytes out(rawSize, "the unpacked weights");
  std::vector<uint64_t> starts(chunks.size());
  for (size_t i = 1; i < chunks.size(); ++i)
    starts[i] = starts[i - 1] + chunks[i - 1].raw_bytes;

  std::atomic<size_t> next{0};
  std::atomic<int64_t> failed{-1}, mismatch{-1};
  // Per chunk, so the message describes the chunk it names (the first that
  // failed), not whichever failed last.
  std::vector<uint8_t> wrongSize(chunks.size(), 0);
  auto work = [&] {
    ZSTD_DCtx *ctx = ZSTD_createDCtx();
    for (size_t i; (i = next.fetch_add(1)) < chunks.size();) {
      const PackedChunk &c = chunks[i];
      size_t n = ZSTD_decompressDCtx(ctx, out.data() + starts[i], c.raw_bytes, packed + c.offset, c.packed_bytes);
      if (ZSTD_isError(n) || n != c.raw_bytes) {
        wrongSize[i] = !ZSTD_isError(n);
        keepFirst(failed, int64_t(i));
      } else if (hashBytes(out.data() + starts[i], c.raw_bytes) != check.hashes[i]) {
        keepFirst(mismatch, int64_t(i));
      }
    }
    ZSTD_freeDCtx(ctx);
  };
  threads = std::max(1u, std::min<unsigned>(threads, unsigned(chunks.size())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(work);
  work();
  for (auto &t : pool)
    t.join();
  if (failed >= 0)
    fail(path, "packed weights: chunk ", int64_t(failed),
         wrongSize[size_t(failed.load())] ? " has the wrong size" : " does not decompress",
         " (data corrupted)");
  *badChunk = mismatch;
  return out;
}
#endif

} // namespace mcc
