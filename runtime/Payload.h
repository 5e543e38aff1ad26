// Reads the model payload (format/Payload.h) behind this executable's code:
// checks the trailer and the header's hash, unpacks or verifies the weight
// data, and points the model's views into it.
#pragma once

#include "format/ModelDesc.h"
#include "format/Payload.h"
#include "runtime/Unpack.h"

#include <cstdint>
#include <string>

namespace mcc {

// With verify, every chunk of the weight data is hashed (on `threads`
// threads) and a mismatch is an error naming the chunk and a tensor in it;
// zstd-packed chunks are always verified, as they are unpacked.
struct PayloadOptions {
  bool verify = true;
  unsigned threads = 1;
};

// The loaded side: the header with its views pointing into the file's
// weight data, or into *unpacked when the data was zstd-packed (it must
// outlive the result), and the generated code when the executable has some.
// Throws mcc::Error naming `path` if anything is inconsistent.
PayloadHeader readPayload(const uint8_t *file, uint64_t fileSize, const std::string &path, OwnedBytes *unpacked,
                          const PayloadOptions &opt = {});

} // namespace mcc
