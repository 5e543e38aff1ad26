#include "runtime/ThreadPool.h"

#include <sched.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define MCC_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define MCC_PAUSE() asm volatile("yield")
#else
#define MCC_PAUSE() ((void)0)
#endif

namespace mcc {

int ThreadPool::cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    return std::max(1, CPU_COUNT(&set));
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

ThreadPool::ThreadPool(int n) : n_(n < 1 ? 1 : n) {
  // About a millisecond of pauses: longer than the gap between two jobs of a
  // decode step, far shorter than a person takes to type.
  spinLimit_ = n_ > cores() ? 0 : 1 << 14;
  for (int i = 1; i < n_; ++i)
    threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (auto &t : threads_)
    t.join();
}

void ThreadPool::call(int index) {
  try {
    (*job_)(index, n_);
  } catch (...) {
    std::lock_guard<std::mutex> lock(errorMutex_);
    if (!error_)
      error_ = std::current_exception();
  }
}

void ThreadPool::worker(int index) {
  uint32_t seen = 0;
  for (;;) {
    uint32_t g;
    for (int spins = 0; (g = generation_.load(std::memory_order_acquire)) == seen;) {
      if (spins < spinLimit_) {
        ++spins;
        MCC_PAUSE();
        continue;
      }
      // Sleep until the generation moves. The caller notifies only when it
      // sees a sleeper; both sides use sequentially consistent operations,
      // so either it sees this one or the wait sees the new generation.
      sleepers_.fetch_add(1);
      generation_.wait(seen);
      sleepers_.fetch_sub(1);
    }
    seen = g;
    if (stop_.load())
      return;
    call(index);
    if (pending_.fetch_sub(1) == 1 && callerSleeping_.load())
      pending_.notify_one();
  }
}

void ThreadPool::run(const std::function<void(int, int)> &f) {
  if (n_ == 1) {
    f(0, 1);
    return;
  }
  job_ = &f;
  error_ = nullptr;
  pending_.store(n_ - 1);
  generation_.fetch_add(1);
  if (sleepers_.load() > 0)
    generation_.notify_all();
  call(0);
  for (int spins = 0; spins < spinLimit_ && pending_.load(std::memory_order_acquire) != 0; ++spins)
    MCC_PAUSE();
  if (pending_.load() != 0) {
    callerSleeping_.store(true);
    for (int p; (p = pending_.load()) != 0;)
      pending_.wait(p);
    callerSleeping_.store(false);
  }
  if (error_)
    std::rethrow_exception(error_);
}

} // namespace mcc
