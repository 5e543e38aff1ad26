// argmax against max_element's answer (the first largest) on lengths around
// its eight running maxima, the largest at every place, and ties.
#include "runtime/Sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace mcc {
namespace {

TEST(Argmax, FirstLargestAtEveryPlace) {
  for (int32_t n : {1, 2, 7, 8, 9, 15, 16, 17, 33, 49152}) {
    std::vector<float> v(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i)
      v[size_t(i)] = float((i * 37) % 11) - 20.0f;
    for (int32_t at : {0, n / 2, n - 1}) {
      std::vector<float> w = v;
      w[size_t(at)] = 5.0f;
      EXPECT_EQ(argmax(w.data(), n), at) << n;
      w[size_t(n - 1)] = 5.0f; // a tie later on: still the first
      EXPECT_EQ(argmax(w.data(), n), at) << n;
      EXPECT_EQ(argmax(w.data(), n), int32_t(std::max_element(w.begin(), w.end()) - w.begin()));
    }
  }
}

TEST(Argmax, RandomRowsAndSpecialValues) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> small(-3, 3); // many ties
  for (int32_t n : {1, 3, 8, 12, 31, 64, 1000, 49152})
    for (int rep = 0; rep < 20; ++rep) {
      std::vector<float> v(static_cast<size_t>(n));
      for (float &x : v)
        x = float(small(rng));
      if (rep % 4 == 1)
        std::fill(v.begin(), v.end(), -INFINITY);
      if (rep % 4 == 2)
        v[size_t(rng() % unsigned(n))] = INFINITY;
      if (rep % 4 == 3 && n > 1)
        v[size_t(1 + rng() % unsigned(n - 1))] = NAN; // NaNs never win, past the first place
      EXPECT_EQ(argmax(v.data(), n), int32_t(std::max_element(v.begin(), v.end()) - v.begin())) << n << " " << rep;
    }
  std::vector<float> nanFirst = {NAN, 1.0f, 2.0f};
  EXPECT_EQ(argmax(nanFirst.data(), 3), 0); // as max_element
}

} // namespace
} // namespace mcc
