#include "runtime/HugePages.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <string>

namespace mcc {

int64_t hugePageBytesIn(std::string_view smaps, uint64_t lo, uint64_t n) {
  const uint64_t hi = lo + n;
  uint64_t total = 0;
  bool inside = false;
  while (!smaps.empty()) {
    size_t eol = smaps.find('\n');
    std::string line(smaps.substr(0, eol));
    smaps.remove_prefix(eol == std::string_view::npos ? smaps.size() : eol + 1);
    uint64_t a, b, kib;
    int used = 0;
    // A mapping's header ("start-end perms offset dev inode path") starts a
    // new mapping; the fields after it ("Name:   N kB") belong to it. Field
    // names can begin with hex letters (AnonHugePages), so the header is the
    // line where two hex numbers and a dash make the first word.
    if (std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64 "%n", &a, &b, &used) == 2 &&
        (line[size_t(used)] == ' ' || line[size_t(used)] == 0))
      inside = a < hi && lo < b;
    else if (inside && (std::sscanf(line.c_str(), "FilePmdMapped: %" SCNu64 " kB", &kib) == 1 ||
                        std::sscanf(line.c_str(), "AnonHugePages: %" SCNu64 " kB", &kib) == 1))
      total += kib << 10;
  }
  return int64_t(std::min(total, n));
}

int64_t hugePageBytes(const void *p, uint64_t n) {
  std::FILE *f = std::fopen("/proc/self/smaps", "r");
  if (!f)
    return -1;
  std::string text;
  char buf[1 << 16];
  for (size_t got; (got = std::fread(buf, 1, sizeof buf, f)) > 0;)
    text.append(buf, got);
  std::fclose(f);
  return hugePageBytesIn(text, reinterpret_cast<uintptr_t>(p), n);
}

} // namespace mcc
