// A fixed set of threads that run one job at a time over [0, n_threads),
// synchronised with a spinning generation counter: decode steps are a few
// hundred microseconds, too short to pay for a futex wake per op.
#pragma once

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

namespace mcc {

class ThreadPool {
public:
  explicit ThreadPool(int n);
  ~ThreadPool();
  int size() const { return n_; }
  // Calls f(thread_index, n_threads) on every thread (the caller is thread 0)
  // and returns when all are done.
  void run(const std::function<void(int, int)> &f);

private:
  void worker(int index);

  int n_;
  std::vector<std::thread> threads_;
  const std::function<void(int, int)> *job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
};

} // namespace mcc
