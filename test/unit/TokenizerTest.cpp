// The tokenizer from several threads at once, as the server's HTTP threads
// call it: the same ids as one thread gets.
#include "runtime/tokenizer/Tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace mcc {
namespace {

// GPT-2's byte stand-ins as tokens (bytes-to-unicode), and a few merges.
TokenizerDesc byteLevelDesc() {
  TokenizerDesc d;
  d.pre = "gpt2";
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    uint32_t cp = printable ? uint32_t(b) : uint32_t(next++);
    std::string s;
    if (cp < 0x80) {
      s += char(cp);
    } else {
      s += char(0xC0 | (cp >> 6));
      s += char(0x80 | (cp & 0x3F));
    }
    d.tokens.push_back(s);
  }
  for (const char *m : {"a b", "ab c", "Ġ a", "Ġa b"}) {
    d.merges.push_back(m);
    std::string t(m);
    t.erase(t.find(' '), 1);
    d.tokens.push_back(t);
  }
  return d;
}

// Words no thread has seen before: every one is a new entry of the piece cache.
std::string text(int thread, int i) {
  std::string s;
  for (int w = 0; w < 40; ++w) {
    s += " ab";
    for (int v = thread * 1000003 + i * 7919 + w * 104729; v > 0; v /= 7)
      s += char('a' + v % 7);
  }
  return s;
}

TEST(Tokenizer, EncodesFromManyThreadsAtOnce) {
  TokenizerDesc d = byteLevelDesc();
  constexpr int kThreads = 4, kTexts = 600;
  std::vector<std::vector<std::vector<int32_t>>> want(kThreads), got(kThreads);
  {
    Tokenizer one(d);
    for (int t = 0; t < kThreads; ++t)
      for (int i = 0; i < kTexts; ++i)
        want[size_t(t)].push_back(one.encode(text(t, i)));
  }
  Tokenizer shared(d);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTexts; ++i)
        got[size_t(t)].push_back(shared.encode(text(t, i)));
    });
  for (auto &th : threads)
    th.join();
  EXPECT_EQ(got, want);
  EXPECT_GT(want[0][0].size(), 40u);
}

} // namespace
} // namespace mcc
