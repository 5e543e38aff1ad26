// A fixed set of threads that run one job at a time over [0, n_threads).
// Decode steps are a few hundred microseconds of many short jobs, too short to
// pay for a futex wake per job, so threads spin on a generation counter
// first; after a short spin they sleep on it (C++20 atomic wait), so an
// executable waiting for input uses no CPU. With more threads than cores
// nobody spins: a spinning thread would hold the core another needs.
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mcc {

class ThreadPool {
public:
  explicit ThreadPool(int n);
  ~ThreadPool();
  int size() const { return n_; }
  // Calls f(thread_index, n_threads) on every thread (the caller is thread 0)
  // and returns when all are done. If f throws on any thread, every thread
  // still finishes its call and the first exception is rethrown here.
  void run(const std::function<void(int, int)> &f);

  // The cores this process may run on.
  static int cores();

private:
  void worker(int index);
  void call(int index);

  int n_;
  int spinLimit_; // pause iterations before sleeping (0 when oversubscribed)
  std::vector<std::thread> threads_;
  const std::function<void(int, int)> *job_ = nullptr;
  // Each on its own cache line: workers poll the first, write the second.
  alignas(64) std::atomic<uint32_t> generation_{0};
  alignas(64) std::atomic<int> pending_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> callerSleeping_{false};
  std::atomic<bool> stop_{false};
  std::mutex errorMutex_;
  std::exception_ptr error_;
};

} // namespace mcc
