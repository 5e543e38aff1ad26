// Weights packed with `mcc compile --pack zstd`: independently compressed
// chunks, decompressed in parallel on every core straight into their final
// place at start-up. Each chunk is hashed right after it is unpacked, while
// it is still in cache, against the header's chunk hashes (Integrity.h), so
// a corrupted executable fails here with the chunk named, not later with
// garbage text.
#pragma once

#include "format/Payload.h"
#include "runtime/OwnedBytes.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mcc {

struct ChunkHashes {
  uint64_t chunk_bytes;            // every chunk's unpacked size but the last's
  const std::vector<uint64_t> &hashes;
};

// Decompresses every chunk of `packed` (packedSize bytes) into a new buffer
// of rawSize bytes, on up to `threads` threads. Throws mcc::Error naming
// `path` and the chunk when one does not decompress; sets *badChunk to the
// first chunk whose hash does not match (else -1), for the caller to name
// what it holds.
OwnedBytes unpackZstd(const uint8_t *packed, uint64_t packedSize, uint64_t rawSize,
                      const std::vector<PackedChunk> &chunks, const ChunkHashes &check, unsigned threads,
                      const std::string &path, int64_t *badChunk);

// Whether this runtime can unpack zstd (the AArch64 build has no libzstd).
bool haveZstd();

} // namespace mcc
