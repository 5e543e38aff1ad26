// The rows of one parallel product, dealt to the threads so that a thread
// that runs slower for a while does not hold the others at the join. Each
// thread starts on its own contiguous share (as a static split would give
// it: its prefetches run on into its next rows) and takes it a chunk at a
// time from the front; a thread done with its own takes chunks from the back
// of the others' shares. A share's front and back are one atomic word, so a
// chunk is taken by exactly one thread. (This VM's two vCPUs: serving four
// SmolLM2 streams, one thread's parallel work took 2.26 s and the other's
// 2.04 s in 2.49 s of parallel passes, the faster one waiting at every join.)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

namespace mcc {

class RowShares {
public:
  explicit RowShares(int threads);
  // Deals [0, total < 2^32) to nt threads, in chunks of `chunk` rows (a multiple of
  // `grain`; every share and chunk starts at a multiple of it: 16, whole
  // panels, format/Panel.h). Called before the parallel pass, on one thread.
  void reset(int64_t total, int nt, int64_t chunk, int64_t grain = 16);
  // Thread t's share: f(r0, r1) for each range it takes, until none is left.
  template <class F> void run(int t, F &&f) {
    int k = 0;
    for (std::pair<int64_t, int64_t> r; next(t, k, r);)
      f(r.first, r.second);
  }
  // The same a range at a time: thread t's next range in r, or false when
  // none is left; k (0 at first) is where it looks, its own share first.
  bool next(int t, int &k, std::pair<int64_t, int64_t> &r) {
    for (; k < nt_; ++k)
      if (take((t + k) % nt_, k == 0, r))
        return true;
    return false;
  }

private:
  // The next chunk of share u: from its front (its owner) or its back.
  bool take(int u, bool front, std::pair<int64_t, int64_t> &r);

  struct alignas(64) Share {
    std::atomic<uint64_t> range{0}; // front in the low 32 bits, back in the high
  };
  std::unique_ptr<Share[]> shares_;
  int threads_, nt_ = 0;
  int64_t chunk_ = 16, grain_ = 16;
};

} // namespace mcc
