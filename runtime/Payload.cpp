#include "runtime/Payload.h"
#include "format/Error.h"
#include "format/Integrity.h"

#include <cstring>

namespace mcc {

namespace {

// The trailer, checked so far as it can be without the header.
PayloadTrailer readTrailer(const uint8_t *file, uint64_t fileSize, const std::string &path) {
  // The last 16 bytes (version, reserved, magic) mean the same in every
  // version.
  if (fileSize < 16)
    fail(path, "no model payload: file too small");
  uint32_t version;
  std::memcpy(&version, file + fileSize - 16, 4);
  if (std::memcmp(file + fileSize - 8, kPayloadMagic, 8) != 0)
    fail(path, "no model payload at the end of the file: truncated, or not made by `mcc compile`");
  if (version != kPayloadVersion)
    fail(path, "payload version ", version, " (this runtime reads ", kPayloadVersion, "): compile the model again");
  PayloadTrailer tr;
  if (fileSize < sizeof tr)
    fail(path, "no model payload: file too small");
  std::memcpy(&tr, file + fileSize - sizeof tr, sizeof tr);
  uint64_t end = fileSize - sizeof tr;
  if (tr.header_offset > end || tr.header_size > end - tr.header_offset || tr.data_offset > tr.header_offset)
    fail(path, "payload trailer points outside the file: truncated or corrupted");
  if (hashBytes(file + tr.header_offset, tr.header_size) != tr.header_hash)
    fail(path, "payload header is corrupted (its checksum does not match)");
  return tr;
}

} // namespace

PayloadHeader readPayload(const uint8_t *file, uint64_t fileSize, const std::string &path, OwnedBytes *unpacked,
                          const PayloadOptions &opt) {
  PayloadTrailer tr = readTrailer(file, fileSize, path);
  PayloadHeader h = readPayloadHeader(file + tr.header_offset, tr.header_size, path);
  const PackInfo &p = h.pack;
  const uint8_t *data = file + tr.data_offset;
  uint64_t dataSize = tr.header_offset - tr.data_offset;
  int64_t badChunk = -1;
  if (p.zstd) {
    *unpacked = unpackZstd(data, dataSize, p.raw_bytes, p.chunks, {p.chunk_bytes, p.hashes}, opt.threads, path,
                           &badChunk);
    data = unpacked->data();
    dataSize = unpacked->size();
  } else {
    // Raw: the data is the file itself, and a short file is a truncated one.
    if (dataSize != p.raw_bytes)
      fail(path, "payload: ", dataSize, " bytes of weight data where the header says ", p.raw_bytes,
           ": truncated or corrupted");
    if (opt.verify)
      badChunk = firstBadChunk(data, dataSize, p.chunk_bytes, p.hashes, opt.threads);
  }
  if (badChunk >= 0) {
    uint64_t from = uint64_t(badChunk) * p.chunk_bytes, to = std::min(p.raw_bytes, from + p.chunk_bytes);
    fail(path, "weight data chunk ", badChunk, " (bytes ", from, "..", to, ", ", whatLiesIn(h, from, to),
         ") is corrupted: its checksum does not match");
  }
  bindViews(h, data, dataSize, path);
  return h;
}

} // namespace mcc
