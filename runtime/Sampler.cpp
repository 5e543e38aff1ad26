#include "runtime/Sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace mcc {

// The first index of the largest value. Eight running maxima, then the
// first block of eight holding the largest: independent chains and
// whole-block compares the compiler keeps in vectors (max_element's one
// chain of compares was 5x slower, the search one element at a time as
// slow again). A server step samples every sequence's vocabulary-wide row.
int32_t argmax(const float *logits, int32_t n) {
  if (n <= 0)
    return 0;
  float m[8];
  std::fill_n(m, 8, logits[0]);
  int32_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j)
      m[j] = logits[i + j] > m[j] ? logits[i + j] : m[j];
  float best = m[0];
  for (int j = 1; j < 8; ++j)
    best = m[j] > best ? m[j] : best;
  for (; i < n; ++i)
    best = logits[i] > best ? logits[i] : best;
  for (i = 0; i + 8 <= n; i += 8) {
    int hit = 0;
    for (int j = 0; j < 8; ++j)
      hit |= logits[i + j] == best;
    if (hit)
      break;
  }
  for (; i < n; ++i)
    if (logits[i] == best)
      return i;
  return int32_t(std::max_element(logits, logits + n) - logits); // NaN throughout
}

void Sampler::applyPenalty(float *logits, int32_t n, const std::vector<int32_t> &history) const {
  if (c_.repeat_penalty != 1.0f && c_.repeat_last_n > 0) {
    std::unordered_set<int32_t> seen;
    size_t from = history.size() > size_t(c_.repeat_last_n) ? history.size() - size_t(c_.repeat_last_n) : 0;
    for (size_t i = from; i < history.size(); ++i)
      if (history[i] >= 0 && history[i] < n && seen.insert(history[i]).second) {
        float &l = logits[history[i]];
        l = l > 0 ? l / c_.repeat_penalty : l * c_.repeat_penalty;
      }
  }
}

const std::vector<std::pair<float, int32_t>> &Sampler::distribution(float *logits, int32_t n,
                                                                   const std::vector<int32_t> &history) {
  applyPenalty(logits, n, history);
  cand_.clear();
  for (int32_t i = 0; i < n; ++i)
    cand_.push_back({logits[i] / c_.temp, i});
  size_t k = c_.top_k > 0 ? std::min<size_t>(size_t(c_.top_k), cand_.size()) : cand_.size();
  std::partial_sort(cand_.begin(), cand_.begin() + long(k), cand_.end(),
                    [](auto &a, auto &b) { return a.first > b.first; });
  cand_.resize(k);
  float mx = cand_[0].first, sum = 0;
  for (auto &c : cand_)
    sum += (c.first = std::exp(c.first - mx));
  for (auto &c : cand_)
    c.first /= sum;
  // top-p: the smallest prefix whose mass reaches p; min-p: drop tokens far below the best.
  float cum = 0;
  size_t keep = cand_.size();
  // top_p = 1 keeps everything (a float running sum can reach 1 early).
  for (size_t i = 0; c_.top_p < 1.0f && i < cand_.size(); ++i) {
    cum += cand_[i].first;
    if (cum >= c_.top_p) {
      keep = i + 1;
      break;
    }
  }
  float floor = c_.min_p * cand_[0].first;
  while (keep > 1 && cand_[keep - 1].first < floor)
    --keep;
  cand_.resize(keep);
  float total = 0;
  for (auto &c : cand_)
    total += c.first;
  for (auto &c : cand_)
    c.first /= total;
  return cand_;
}

int32_t Sampler::sample(float *logits, int32_t n, const std::vector<int32_t> &history) {
  if (c_.temp <= 0) {
    applyPenalty(logits, n, history);
    return argmax(logits, n);
  }
  distribution(logits, n, history);
  float r = std::uniform_real_distribution<float>(0.0f, 1.0f)(rng_);
  for (auto &c : cand_) {
    r -= c.first;
    if (r <= 0)
      return c.second;
  }
  return cand_.back().second;
}

} // namespace mcc
