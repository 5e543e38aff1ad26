// hugePageBytes' reading of /proc/self/smaps: which mappings a range
// overlaps, both kinds of huge page counted, field names that begin with
// hex letters not taken for mapping headers, and the real file read.
#include "runtime/HugePages.h"
#include "runtime/OwnedBytes.h"

#include <gtest/gtest.h>

namespace mcc {
namespace {

const char *kSmaps = "00400000-00600000 r-xp 00000000 08:01 42 /opt/qwen\n"
                     "Size:               2048 kB\n"
                     "AnonHugePages:         0 kB\n"
                     "FilePmdMapped:      2048 kB\n"
                     "7f0000000000-7f0000800000 r--p 00200000 08:01 42 /opt/qwen\n"
                     "Size:               8192 kB\n"
                     "AnonHugePages:         0 kB\n"
                     "FilePmdMapped:      6144 kB\n"
                     "VmFlags: rd mr mw me hg\n"
                     "7f0000800000-7f0001000000 rw-p 00000000 00:00 0\n"
                     "AnonHugePages:      4096 kB\n"
                     "FilePmdMapped:         0 kB\n"
                     "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]\n"
                     "AnonHugePages:         0 kB\n";

TEST(HugePages, CountsTheMappingsARangeOverlaps) {
  const uint64_t file = 0x7f0000000000, anon = 0x7f0000800000, MiB = 1 << 20;
  EXPECT_EQ(hugePageBytesIn(kSmaps, file, 8 * MiB), int64_t(6 * MiB));
  EXPECT_EQ(hugePageBytesIn(kSmaps, anon, 8 * MiB), int64_t(4 * MiB));
  EXPECT_EQ(hugePageBytesIn(kSmaps, file + MiB, 8 * MiB), int64_t(8 * MiB)); // both, capped at n
  EXPECT_EQ(hugePageBytesIn(kSmaps, 0x00400000, 2 * MiB), int64_t(2 * MiB));
  EXPECT_EQ(hugePageBytesIn(kSmaps, 0x00600000, MiB), 0); // ends are exclusive
  EXPECT_EQ(hugePageBytesIn(kSmaps, 0x10000000, MiB), 0);
  EXPECT_EQ(hugePageBytesIn("", file, MiB), 0);
  EXPECT_EQ(hugePageBytesIn("AnonHugePages: 2048 kB\n", file, 8 * MiB), 0); // no header yet
}

TEST(HugePages, ReadsThisProcess) {
  // The runtime's own anonymous memory, asked for in 2 MiB pages.
  const size_t n = size_t(8) << 20;
  OwnedBytes mem(n, "the test's pages");
  for (size_t i = 0; i < n; i += 4096)
    mem.data()[i] = 1;
  int64_t huge = hugePageBytes(mem.data(), n);
  // Whether the kernel handed out huge pages depends on the machine; the
  // figure must be one smaps could give.
  EXPECT_GE(huge, 0);
  EXPECT_LE(huge, int64_t(n));
  EXPECT_EQ(huge % 4096, 0);
}

} // namespace
} // namespace mcc
