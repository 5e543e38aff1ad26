// The model payload every generated executable carries after its code:
//
//   [executable code][pad to 4096][tensor bytes, each 64-aligned][header JSON][trailer]
//
// The trailer (last 48 bytes of the file) locates the rest, so the runtime
// finds its weights by reading its own file (/proc/self/exe) and mapping it:
// no copy, no parsing of tensor data. The header describes the model
// (hyper-parameters, tokenizer, each weight's format and byte ranges) and
// carries the weight data's chunk hashes (Integrity.h); the trailer carries
// the header's hash.
#pragma once

#include "compiler/import/ModelDesc.h"
#include "runtime/Executor.h"
#include "runtime/Unpack.h"

#include <cstdint>
#include <string>

namespace mcc {

constexpr char kPayloadMagic[8] = {'M', 'C', 'C', 'M', 'O', 'D', 'E', 'L'};
constexpr uint32_t kPayloadVersion = 2;
constexpr uint64_t kPayloadAlign = 4096;
constexpr uint64_t kTensorAlign = 64;

// Every version ends with version, reserved, magic: a runtime reads those
// first, so an executable of another version gets a clear message.
struct PayloadTrailer {
  uint64_t data_offset;   // file offset of the tensor bytes
  uint64_t header_offset; // file offset of the header JSON
  uint64_t header_size;
  uint64_t header_hash;   // hashBytes() of the header JSON
  uint32_t version;
  uint32_t reserved;
  char magic[8];
};
static_assert(sizeof(PayloadTrailer) == 48);

// The header JSON for a model whose tensors were laid out at the given
// offsets (relative to data_offset), in the order of m.weights and, within a
// weight, data / scales / zeros / g_idx / perm.
// code, when given, describes generated machine code stored at code->offset
// (relative to data_offset, as the tensors); its `text` is not read.
// Offsets are into the weight data as unpacked; with pack, the data is
// stored as those zstd chunks.
// chunk_bytes and hashes are always set: the chunk hashes of the data as
// unpacked; zstd chunks, when packed, are the same chunks.
struct PackInfo {
  bool zstd = false;
  int level = 0;
  uint64_t raw_bytes = 0;
  std::vector<PackedChunk> chunks;
  uint64_t chunk_bytes = 0;
  std::vector<uint64_t> hashes;
};
std::string payloadHeader(const ModelDesc &m, const std::vector<uint64_t> &offsets, const PackInfo &pack,
                          const CodeView *code = nullptr, uint64_t codeOffset = 0);

// The loaded side: a ModelDesc whose views point into `base + data_offset`,
// and the generated code when the executable has some (else code->text stays
// null). Throws mcc::Error naming `path` if the header is inconsistent.
// Zstd-packed weights are unpacked into *unpacked, which the views then point
// into (it must outlive the ModelDesc).
// With verify, every chunk of the weight data is hashed (on `threads`
// threads) and a mismatch is an error naming the chunk and a tensor in it;
// zstd-packed chunks are always verified, as they are unpacked.
struct PayloadOptions {
  bool verify = true;
  unsigned threads = 1;
};
ModelDesc modelFromPayload(const uint8_t *file, uint64_t fileSize, const std::string &path, CodeView *code,
                           OwnedBytes *unpacked, const PayloadOptions &opt = {}, std::string *modelHash = nullptr);

} // namespace mcc
