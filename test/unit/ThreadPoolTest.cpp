// The pool runs every share, survives a job that throws (on any thread), and
// works with more threads than cores.
#include "runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

using mcc::ThreadPool;

TEST(ThreadPool, RunsEveryShare) {
  ThreadPool pool(4);
  for (int round = 0; round < 1000; ++round) {
    std::atomic<int> mask{0};
    pool.run([&](int t, int nt) { mask |= 1 << t; });
    ASSERT_EQ(mask.load(), 0xF);
  }
}

TEST(ThreadPool, JobThatThrowsIsRethrownAndThePoolGoesOn) {
  ThreadPool pool(3);
  for (int thrower : {0, 1, 2}) {
    std::atomic<int> ran{0};
    EXPECT_THROW(pool.run([&](int t, int) {
      ++ran;
      if (t == thrower)
        throw std::runtime_error("job failed");
    }),
                 std::runtime_error);
    EXPECT_EQ(ran.load(), 3); // every thread finished its call
  }
  std::atomic<int> ran{0};
  pool.run([&](int, int) { ++ran; });
  EXPECT_EQ(ran.load(), 3);
}

TEST(ThreadPool, OversubscribedStillCompletes) {
  ThreadPool pool(ThreadPool::cores() * 16);
  std::atomic<int> ran{0};
  for (int round = 0; round < 50; ++round)
    pool.run([&](int, int) { ++ran; });
  EXPECT_EQ(ran.load(), 50 * pool.size());
}
