#include "runtime/Unpack.h"
#include "compiler/import/Error.h"

#include <algorithm>
#include <atomic>
#include <sys/mman.h>
#include <thread>

#ifndef MCC_NO_ZSTD
#include <zstd.h>
#endif

namespace mcc {

OwnedBytes::OwnedBytes(size_t n) : n_(n) {
  if (n == 0)
    return;
  void *p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw Error(cat("cannot allocate ", n >> 20, " MiB for the unpacked weights"));
  p_ = static_cast<uint8_t *>(p);
}

OwnedBytes::~OwnedBytes() {
  if (p_)
    ::munmap(p_, n_);
}

OwnedBytes &OwnedBytes::operator=(OwnedBytes &&o) noexcept {
  if (this != &o) {
    if (p_)
      ::munmap(p_, n_);
    p_ = o.p_, n_ = o.n_;
    o.p_ = nullptr, o.n_ = 0;
  }
  return *this;
}

#ifdef MCC_NO_ZSTD
bool haveZstd() { return false; }
OwnedBytes unpackZstd(const uint8_t *, uint64_t, uint64_t, const std::vector<PackedChunk> &, const std::string &path) {
  throw Error(cat(path, ": weights are zstd-packed, and this runtime was built without zstd"));
}
#else
bool haveZstd() { return true; }

OwnedBytes unpackZstd(const uint8_t *packed, uint64_t packedSize, uint64_t rawSize,
                      const std::vector<PackedChunk> &chunks, const std::string &path) {
  // Validate the whole table before any thread starts.
  uint64_t at = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const PackedChunk &c = chunks[i];
    if (c.offset > packedSize || c.packed_bytes > packedSize - c.offset || c.raw_bytes > rawSize - at)
      fail(path, "packed weights: chunk ", i, " lies outside the data: truncated or corrupted");
    at += c.raw_bytes;
  }
  if (at != rawSize)
    fail(path, "packed weights: the chunks hold ", at, " bytes, the header says ", rawSize);
  OwnedBytes out(rawSize);
  std::vector<uint64_t> starts(chunks.size());
  for (size_t i = 1; i < chunks.size(); ++i)
    starts[i] = starts[i - 1] + chunks[i - 1].raw_bytes;

  std::atomic<size_t> next{0}, failed{chunks.size()};
  std::atomic<bool> sizeError{false};
  auto work = [&] {
    ZSTD_DCtx *ctx = ZSTD_createDCtx();
    for (size_t i; (i = next.fetch_add(1)) < chunks.size();) {
      const PackedChunk &c = chunks[i];
      size_t n = ZSTD_decompressDCtx(ctx, out.data() + starts[i], c.raw_bytes, packed + c.offset, c.packed_bytes);
      if (ZSTD_isError(n) || n != c.raw_bytes) {
        size_t expected = chunks.size();
        failed.compare_exchange_strong(expected, i);
        sizeError = !ZSTD_isError(n);
      }
    }
    ZSTD_freeDCtx(ctx);
  };
  unsigned threads = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(), unsigned(chunks.size())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t)
    pool.emplace_back(work);
  work();
  for (auto &t : pool)
    t.join();
  if (failed != chunks.size())
    fail(path, "packed weights: chunk ", size_t(failed), sizeError ? " has the wrong size" : " does not decompress",
         " (checksum or data corrupted)");
  return out;
}
#endif

} // namespace mcc
