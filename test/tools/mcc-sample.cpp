// The runtime's sampler on logits read from stdin (whitespace-separated),
// for test/runtime/check_sampler.py, which compares it with NumPy:
//   mcc-sample TEMP TOP_K TOP_P MIN_P REPEAT_PENALTY "HISTORY IDS" DRAWS SEED
// prints the distribution it draws from ("p TOKEN PROB", most likely first)
// and how often each token came out of DRAWS draws ("n TOKEN COUNT").
#include "runtime/Sampler.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  if (argc != 9) {
    std::fprintf(stderr, "usage: mcc-sample TEMP TOP_K TOP_P MIN_P REPEAT_PENALTY HISTORY DRAWS SEED < logits\n");
    return 2;
  }
  mcc::SamplerConfig c;
  c.temp = std::strtof(argv[1], nullptr);
  c.top_k = std::atoi(argv[2]);
  c.top_p = std::strtof(argv[3], nullptr);
  c.min_p = std::strtof(argv[4], nullptr);
  c.repeat_penalty = std::strtof(argv[5], nullptr);
  std::vector<int32_t> history;
  std::istringstream h(argv[6]);
  for (int32_t id; h >> id;)
    history.push_back(id);
  int draws = std::atoi(argv[7]);
  c.seed = std::strtoull(argv[8], nullptr, 10);
  std::vector<float> logits;
  for (float x; std::cin >> x;)
    logits.push_back(x);
  int32_t n = int32_t(logits.size());
  mcc::Sampler s(c);
  std::vector<float> work = logits;
  for (auto &[p, id] : s.distribution(work.data(), n, history))
    std::printf("p %d %.9g\n", id, double(p));
  std::map<int32_t, int> counts;
  for (int i = 0; i < draws; ++i) {
    work = logits;
    ++counts[s.sample(work.data(), n, history)];
  }
  for (auto &[id, k] : counts)
    std::printf("n %d %d\n", id, k);
  return 0;
}
