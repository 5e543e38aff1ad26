// The workspace plan of one entry point: every activation the generated code
// reads or writes lives at a constant offset in one buffer.
#pragma once

#include <cstdint>
#include <map>

namespace mcc::codegen {

// First-fit offsets (in floats) in one workspace; a value's block is freed
// after its last user has been given its own results, so an op never
// writes where it reads.
class WorkspacePlan {
public:
  int64_t allocate(int64_t n) {
    n = (n + 15) / 16 * 16; // 64-byte aligned blocks
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->second >= n) {
        int64_t at = it->first, left = it->second - n;
        free_.erase(it);
        if (left)
          free_[at + n] = left;
        return at;
      }
    int64_t at = top_;
    top_ += n;
    return at;
  }
  void release(int64_t at, int64_t n) {
    n = (n + 15) / 16 * 16;
    free_[at] = n;
    // Merge with the neighbours.
    auto it = free_.find(at);
    if (auto next = std::next(it); next != free_.end() && at + n == next->first) {
      it->second += next->second;
      free_.erase(next);
    }
    if (it != free_.begin())
      if (auto prev = std::prev(it); prev->first + prev->second == it->first) {
        prev->second += it->second;
        free_.erase(it);
      }
  }
  int64_t size() const { return top_; }

private:
  std::map<int64_t, int64_t> free_; // offset -> length
  int64_t top_ = 0;
};

} // namespace mcc::codegen
