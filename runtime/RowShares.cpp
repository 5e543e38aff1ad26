#include "runtime/RowShares.h"

#include <algorithm>

namespace mcc {

RowShares::RowShares(int threads) : shares_(new Share[size_t(std::max(threads, 1))]), threads_(std::max(threads, 1)) {}

void RowShares::reset(int64_t total, int nt, int64_t chunk, int64_t grain) {
  nt_ = std::min(nt, threads_);
  grain_ = std::max<int64_t>(1, grain);
  chunk_ = std::max(grain_, chunk / grain_ * grain_);
  // The static split's edges: whole grains, the last share to the end.
  auto edge = [&](int i) {
    return i == 0 ? 0 : i == nt_ ? total : std::min(total, (total * i / nt_ + grain_ - 1) / grain_ * grain_);
  };
  for (int u = 0; u < nt_; ++u)
    shares_[u].range.store(uint64_t(edge(u)) | uint64_t(edge(u + 1)) << 32, std::memory_order_relaxed);
}

bool RowShares::take(int u, bool front, std::pair<int64_t, int64_t> &r) {
  std::atomic<uint64_t> &range = shares_[u].range;
  uint64_t v = range.load(std::memory_order_relaxed);
  for (;;) {
    const int64_t f = int64_t(v & 0xffffffffu), b = int64_t(v >> 32);
    if (f >= b)
      return false;
    // From the front: up to a chunk. From the back: down to the chunk's
    // multiple of the grain below, so that it too starts on one.
    const int64_t lo = front ? f : std::max(f, (b - 1) / grain_ * grain_ - (chunk_ - grain_));
    const int64_t hi = front ? std::min(b, f + chunk_) : b;
    const uint64_t next = front ? uint64_t(hi) | uint64_t(b) << 32 : uint64_t(f) | uint64_t(lo) << 32;
    if (range.compare_exchange_weak(v, next, std::memory_order_relaxed)) {
      r = {lo, hi};
      return true;
    }
  }
}

} // namespace mcc
