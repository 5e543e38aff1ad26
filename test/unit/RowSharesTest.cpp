// RowShares deals every row of a product exactly once, in ranges that start
// on a panel (a multiple of 16), whatever the thread count, the total and
// which threads are slow; a thread held up has its rows taken by the others.
#include "runtime/RowShares.h"
#include "runtime/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using mcc::RowShares;
using mcc::ThreadPool;

namespace {

// Runs one pass; returns each row's count of takers and each thread's rows.
void pass(ThreadPool &pool, RowShares &shares, int64_t total, int64_t chunk, int slow,
          std::vector<std::atomic<int>> &hits, std::vector<int64_t> &rowsOf) {
  shares.reset(total, pool.size(), chunk);
  pool.run([&](int t, int) {
    int64_t mine = 0;
    shares.run(t, [&](int64_t r0, int64_t r1) {
      EXPECT_EQ(r0 % 16, 0) << "a range starts off a panel: " << r0;
      EXPECT_LT(r0, r1);
      EXPECT_LE(r1, total);
      EXPECT_LE(r1 - r0, chunk / 16 * 16 < 16 ? 16 : chunk / 16 * 16);
      for (int64_t r = r0; r < r1; ++r)
        ++hits[size_t(r)];
      mine += r1 - r0;
      if (t == slow)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    });
    rowsOf[size_t(t)] = mine;
  });
}

} // namespace

TEST(RowShares, EveryRowOnceOnPanels) {
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    RowShares shares(threads);
    for (int64_t total : {1, 15, 16, 17, 100, 576, 1536, 49152})
      for (int64_t chunk : {16, 40, 64, 256})
        for (int round = 0; round < 3; ++round) {
          std::vector<std::atomic<int>> hits(static_cast<size_t>(total));
          std::vector<int64_t> rowsOf(static_cast<size_t>(threads));
          pass(pool, shares, total, chunk, -1, hits, rowsOf);
          for (int64_t r = 0; r < total; ++r)
            ASSERT_EQ(hits[size_t(r)].load(), 1) << "row " << r << " of " << total << ", " << threads << " threads";
        }
  }
}

TEST(RowShares, OneAtATimeWithGrainOne) {
  // Attention's jobs: grain and chunk 1, every job once, each thread's own
  // consecutive jobs first.
  ThreadPool pool(2);
  RowShares shares(2);
  for (int64_t jobs : {1, 2, 3, 12, 13, 192}) {
    shares.reset(jobs, 2, 1, 1);
    std::vector<std::atomic<int>> hits(static_cast<size_t>(jobs));
    pool.run([&](int t, int) {
      int k = 0;
      for (std::pair<int64_t, int64_t> r; shares.next(t, k, r);) {
        ASSERT_EQ(r.second - r.first, 1);
        ++hits[size_t(r.first)];
      }
    });
    for (int64_t j = 0; j < jobs; ++j)
      ASSERT_EQ(hits[size_t(j)].load(), 1) << "job " << j << " of " << jobs;
  }
  // One thread alone draining both shares: its own in order, then the
  // other's from the back.
  shares.reset(6, 2, 1, 1);
  std::vector<int64_t> order;
  int k = 0;
  for (std::pair<int64_t, int64_t> r; shares.next(1, k, r);)
    order.push_back(r.first);
  EXPECT_EQ(order, (std::vector<int64_t>{3, 4, 5, 2, 1, 0}));
}

TEST(RowShares, SlowThreadsRowsAreTakenByTheOthers) {
  ThreadPool pool(2);
  RowShares shares(2);
  const int64_t total = 4096;
  std::vector<std::atomic<int>> hits(static_cast<size_t>(total));
  std::vector<int64_t> rowsOf(2);
  // Thread 1 sleeps after every chunk: thread 0 finishes its own half and
  // then takes most of thread 1's.
  pass(pool, shares, total, 64, 1, hits, rowsOf);
  for (int64_t r = 0; r < total; ++r)
    ASSERT_EQ(hits[size_t(r)].load(), 1);
  EXPECT_GT(rowsOf[0], total * 3 / 4) << "thread 0 took " << rowsOf[0] << " of " << total;
}
