#include "runtime/ThreadPool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define MCC_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define MCC_PAUSE() asm volatile("yield")
#else
#define MCC_PAUSE() ((void)0)
#endif

namespace mcc {

ThreadPool::ThreadPool(int n) : n_(n < 1 ? 1 : n) {
  for (int i = 1; i < n_; ++i)
    threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1, std::memory_order_release);
  for (auto &t : threads_)
    t.join();
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g;
    int spins = 0;
    while ((g = generation_.load(std::memory_order_acquire)) == seen) {
      if (++spins < 1 << 16)
        MCC_PAUSE();
      else
        std::this_thread::yield(); // idle between requests: give the core back
    }
    seen = g;
    if (stop_.load())
      return;
    (*job_)(index, n_);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(const std::function<void(int, int)> &f) {
  if (n_ == 1) {
    f(0, 1);
    return;
  }
  job_ = &f;
  pending_.store(n_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  f(0, n_);
  // Spin first (a decode step's ops are microseconds apart), then give the
  // core away: with more threads than cores (two processes, say) a spinning
  // caller would otherwise hold the core its workers need.
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0;)
    if (++spins < 1 << 14)
      MCC_PAUSE();
    else
      std::this_thread::yield();
}

} // namespace mcc
