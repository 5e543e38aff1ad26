// What `mcc compile` shows on a terminal while it works: one line per stage
// with its time, and a bar for the weights, which take most of the time on a
// big model. Nothing at all when stderr is not a terminal (piped, CI) or
// with --quiet, so scripts see only the result.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

namespace mcc {

class Progress {
public:
  explicit Progress(bool quiet) : on_(!quiet && ::isatty(2)) {}

  // Ends the stage before (if any) and starts this one.
  void stage(const std::string &name) {
    done();
    if (!on_)
      return;
    name_ = name;
    start_ = Clock::now();
    std::fprintf(stderr, "mcc: %s ...", name.c_str());
    std::fflush(stderr);
    open_ = true;
  }

  // The bar of the current stage: done of total bytes.
  void bytes(uint64_t done, uint64_t total) {
    if (!on_ || !open_ || total == 0)
      return;
    int pct = int(100.0 * double(done) / double(total));
    if (pct == lastPct_)
      return;
    lastPct_ = pct;
    const int width = 30;
    std::string bar(size_t(width * pct / 100), '#');
    bar.resize(width, '.');
    std::fprintf(stderr, "\rmcc: %s [%s] %3d%% %.0f/%.0f MiB", name_.c_str(), bar.c_str(), pct,
                 double(done) / (1 << 20), double(total) / (1 << 20));
    std::fflush(stderr);
  }

  void done() {
    if (!on_ || !open_)
      return;
    double s = std::chrono::duration<double>(Clock::now() - start_).count();
    std::fprintf(stderr, "\r\033[Kmcc: %s: %.1f s\n", name_.c_str(), s);
    open_ = false;
    lastPct_ = -1;
  }

  ~Progress() { done(); }

private:
  using Clock = std::chrono::steady_clock;
  bool on_, open_ = false;
  std::string name_;
  Clock::time_point start_;
  int lastPct_ = -1;
};

} // namespace mcc
