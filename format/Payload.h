// The model payload every generated executable carries after its code, as it
// lies on disk. compiler/package writes it, runtime/ reads it; this file is
// the one description both use.
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

#include "format/ModelDesc.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mcc {

constexpr char kPayloadMagic[8] = {'M', 'C', 'C', 'M', 'O', 'D', 'E', 'L'};
constexpr uint32_t kPayloadVersion = 5;
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

// One independently compressed zstd frame of the weight data.
struct PackedChunk {
  uint64_t raw_bytes;    // its size unpacked; chunks follow each other unpacked
  uint64_t offset;       // where its frame starts, relative to the packed data
  uint64_t packed_bytes; // the frame's size
};

// How the weight data is stored, and the chunk hashes of the data as
// unpacked (zstd chunks, when packed, are the same chunks).
struct PackInfo {
  bool zstd = false;
  int level = 0;
  uint64_t raw_bytes = 0; // the data's size unpacked
  std::vector<PackedChunk> chunks;
  uint64_t chunk_bytes = 0;
  std::vector<uint64_t> hashes;
};

// The generated machine code as the payload stores it. offset is relative to
// the weight data (as the tensors' are); text points at it once loaded.
struct CodeView {
  std::string target, triple;
  std::vector<std::string> needs; // CPU features it was compiled to use (format/CpuFeatures.h)
  uint64_t offset = 0;
  const uint8_t *text = nullptr;
  uint64_t bytes = 0;
  std::map<std::string, uint64_t> entries;
  int64_t workspace_floats = 0;
};

// Everything the header JSON says. The model's tensor views carry no data
// pointers yet: `offsets` holds each one's offset in the weight data, in the
// order of model.weights and, within a weight, data / scales / zeros / g_idx /
// perm (forEachView's order), until bindViews points them at the data.
struct PayloadHeader {
  ModelDesc model;
  std::vector<uint64_t> offsets;
  PackInfo pack;
  // The generated code, one version per target, best first: the runtime
  // runs the first whose needs this CPU meets. Empty: no generated code.
  std::vector<CodeView> codes;
  std::string model_hash;
  // What the executable runs with unless --precision says otherwise: "fast"
  // (the integer kernels) or "exact" (f32 activations; mcc compile --precision).
  std::string precision = "fast";
};

// Calls f(part, TensorView &) for each stored view of a weight, in payload
// order: data, scales, zeros, g_idx, perm.
template <class W, class F> void forEachViewOf(W &w, F &&f) {
  f("data", w.data);
  if (w.scales)
    f("scales", *w.scales);
  if (w.zeros)
    f("zeros", *w.zeros);
  if (w.g_idx)
    f("g_idx", *w.g_idx);
  if (w.perm)
    f("perm", *w.perm);
}

// The same over every weight of m, in order.
template <class M, class F> void forEachView(M &m, F &&f) {
  for (auto &w : m.weights)
    forEachViewOf(w, f);
}

// The header JSON of h (h.model's views are read for name, dtype, shape and
// size only).
std::string writePayloadHeader(const PayloadHeader &h);

// Parses a header; anything missing, of the wrong type or of an unknown value
// (architecture, rope kind, format, dtype) is an mcc::Error naming `path`.
PayloadHeader readPayloadHeader(const uint8_t *json, uint64_t size, const std::string &path);

// Points every view of h.model into data[0, size), checking each lies inside.
void bindViews(PayloadHeader &h, const uint8_t *data, uint64_t size, const std::string &path);

// Names what is stored in [from, to) of the weight data, for messages
// ("holds 'blk.3.ffn_up'", "the generated code", "padding").
std::string whatLiesIn(const PayloadHeader &h, uint64_t from, uint64_t to);

} // namespace mcc
