// Turns logits into the next token: greedy at temperature 0, otherwise
// repetition penalty -> temperature -> top-k -> top-p -> min-p -> draw.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace mcc {

struct SamplerConfig {
  float temp = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  uint64_t seed = 0;
};

class Sampler {
public:
  explicit Sampler(const SamplerConfig &c) : c_(c), rng_(c.seed) {}
  // logits are modified in place.
  int32_t sample(float *logits, int32_t n, const std::vector<int32_t> &history);
  // Whether sample() is argmax of the logits as they are (temperature 0, no
  // repetition penalty): callers may skip their copy.
  bool greedyAsIs() const { return c_.temp <= 0 && (c_.repeat_penalty == 1.0f || c_.repeat_last_n <= 0); }
  // What sample() draws from at temperature > 0: (probability, token) after
  // the penalty, temperature, top-k, top-p and min-p, most likely first,
  // probabilities summing to 1. logits are modified in place.
  const std::vector<std::pair<float, int32_t>> &distribution(float *logits, int32_t n,
                                                             const std::vector<int32_t> &history);

private:
  void applyPenalty(float *logits, int32_t n, const std::vector<int32_t> &history) const;

  SamplerConfig c_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> cand_;
};

int32_t argmax(const float *logits, int32_t n);

} // namespace mcc
