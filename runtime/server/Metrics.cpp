#include "runtime/server/Metrics.h"

#include <cstdio>

namespace mcc {

void Histogram::observe(double seconds) {
  for (size_t i = 0; i < kBounds.size(); ++i)
    if (seconds <= kBounds[i])
      ++counts_[i];
  ++count_;
  sum_ += seconds;
}

std::string Histogram::text(const std::string &name) const {
  std::string s;
  char line[160];
  for (size_t i = 0; i < kBounds.size(); ++i) {
    std::snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", name.c_str(), kBounds[i],
                  (unsigned long long)counts_[i]);
    s += line;
  }
  std::snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name.c_str(),
                (unsigned long long)count_, name.c_str(), sum_, name.c_str(), (unsigned long long)count_);
  return s + line;
}

void Metrics::request(const std::string &route, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
}

void Metrics::tokens(int prompt, int generated) {
  std::lock_guard lock(mu_);
  promptTokens_ += uint64_t(prompt);
  generatedTokens_ += uint64_t(generated);
}

void Metrics::firstToken(double seconds) {
  std::lock_guard lock(mu_);
  ttft_.observe(seconds);
}

void Metrics::tokenLatency(double seconds) {
  std::lock_guard lock(mu_);
  perToken_.observe(seconds);
}

void Metrics::slots(int active, int total, int64_t kvUsed, int64_t kvCapacity) {
  std::lock_guard lock(mu_);
  active_ = active, total_ = total, kvUsed_ = kvUsed, kvCapacity_ = kvCapacity;
}

std::string Metrics::text() {
  std::lock_guard lock(mu_);
  std::string s = "# HELP mcc_requests_total HTTP requests by route and status.\n"
                  "# TYPE mcc_requests_total counter\n";
  char line[1024];
  for (const auto &[key, n] : requests_) {
    std::snprintf(line, sizeof line, "mcc_requests_total{route=\"%s\",status=\"%d\"} %llu\n", key.first.c_str(),
                  key.second, (unsigned long long)n);
    s += line;
  }
  std::snprintf(line, sizeof line,
                "# HELP mcc_prompt_tokens_total Prompt tokens of finished requests.\n"
                "# TYPE mcc_prompt_tokens_total counter\nmcc_prompt_tokens_total %llu\n"
                "# HELP mcc_generated_tokens_total Tokens generated.\n"
                "# TYPE mcc_generated_tokens_total counter\nmcc_generated_tokens_total %llu\n",
                (unsigned long long)promptTokens_, (unsigned long long)generatedTokens_);
  s += line;
  s += "# HELP mcc_time_to_first_token_seconds From a request's arrival to its first generated token.\n"
       "# TYPE mcc_time_to_first_token_seconds histogram\n" +
       ttft_.text("mcc_time_to_first_token_seconds");
  s += "# HELP mcc_token_latency_seconds Between consecutive generated tokens of a request.\n"
       "# TYPE mcc_token_latency_seconds histogram\n" +
       perToken_.text("mcc_token_latency_seconds");
  std::snprintf(line, sizeof line,
                "# HELP mcc_slots_active Slots serving a request.\n# TYPE mcc_slots_active gauge\n"
                "mcc_slots_active %d\n"
                "# HELP mcc_slots Slots (parallel requests).\n# TYPE mcc_slots gauge\nmcc_slots %d\n"
                "# HELP mcc_kv_cache_tokens Positions held in the KV caches of all slots.\n"
                "# TYPE mcc_kv_cache_tokens gauge\nmcc_kv_cache_tokens %lld\n"
                "# HELP mcc_kv_cache_capacity_tokens Positions the KV caches of all slots can hold.\n"
                "# TYPE mcc_kv_cache_capacity_tokens gauge\nmcc_kv_cache_capacity_tokens %lld\n",
                active_, total_, (long long)kvUsed_, (long long)kvCapacity_);
  return s + line;
}

} // namespace mcc
