// safetensors: an 8-byte little-endian header length, a JSON header, then the
// tensor bytes. Every claim the header makes is checked against the file.
#pragma once

#include "format/ModelDesc.h"

#include <map>
#include <memory>
#include <span>
#include <string>

namespace mcc {

// The safetensors spec caps headers at 100 MB; a larger claim is hostile.
constexpr uint64_t kMaxSafetensorsHeader = 100u << 20;

struct SafetensorsFile {
  std::map<std::string, TensorView> tensors;
  std::map<std::string, std::string> metadata;
};

// Parses an image held in memory; `path` names it in errors.
SafetensorsFile parseSafetensors(std::span<const uint8_t> bytes, const std::string &path);

// A checkpoint of one or more shards, all tensors in one map.
struct SafetensorsCheckpoint {
  std::string dir; // where config.json and the tokenizer files are looked for
  std::vector<std::shared_ptr<const MappedFile>> maps;
  std::map<std::string, TensorView> tensors;
};

// PATH is a .safetensors file, a model.safetensors.index.json, or a directory
// holding either. A shard listed in an index beside it brings in the others.
SafetensorsCheckpoint openSafetensors(const std::string &path);

} // namespace mcc
