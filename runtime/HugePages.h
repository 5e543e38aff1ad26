// How much of the weights the kernel maps with 2 MiB pages. Decoding
// streams every weight each token, and with 4 KiB pages the page walks, not
// the memory, bounded that stream on the development VM: the same executable
// decoded 20-30 % slower when its file sat in the page cache in small folios
// (docs/speed.md). `bench` prints this so the cause is visible.
#pragma once

#include <cstdint>
#include <string_view>

namespace mcc {

// Bytes in 2 MiB pages (FilePmdMapped + AnonHugePages, /proc/self/smaps) of
// the mappings that overlap [p, p + n), at most n; -1 where smaps cannot be
// read. A mapping's count covers all of it, so a range that is a small part
// of a larger mapping may be over-counted (the weights are most of theirs).
int64_t hugePageBytes(const void *p, uint64_t n);

// The same over the text of an smaps file.
int64_t hugePageBytesIn(std::string_view smaps, uint64_t lo, uint64_t n);

} // namespace mcc
