// What `GET /metrics` reports, in Prometheus' text format: request counts by
// route and status, prompt and generated tokens, time to first token and
// per-token latency histograms, slots in use and KV cache use.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace mcc {

class Histogram {
public:
  void observe(double seconds);
  // `name`'s _bucket, _sum and _count lines.
  std::string text(const std::string &name) const;

private:
  static constexpr std::array<double, 12> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                     0.5,   1,    2.5,   5,    10,  30};
  std::array<uint64_t, kBounds.size()> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0;
};

class Metrics {
public:
  void request(const std::string &route, int status);
  void tokens(int prompt, int generated);
  void firstToken(double seconds);
  void tokenLatency(double seconds);
  void slots(int active, int total, int64_t kvUsed, int64_t kvCapacity);
  std::string text();

private:
  std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  uint64_t promptTokens_ = 0, generatedTokens_ = 0;
  Histogram ttft_, perToken_;
  int active_ = 0, total_ = 0;
  int64_t kvUsed_ = 0, kvCapacity_ = 0;
};

} // namespace mcc
