// argmax against max_element's answer (the first largest) on lengths around
// its eight running maxima, the largest at every place, and ties.
#include "runtime/Sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
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

} // namespace
} // namespace mcc
