// GGUF v2/v3: header, metadata key/values, tensor infos, aligned data.
// Every length is checked against what is left of the file before use.
#pragma once

#include "format/ModelDesc.h"

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mcc {

enum class GgufType : uint32_t {
  U8 = 0, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64
};
const char *ggufTypeName(GgufType t);

struct GgufValue {
  GgufType type = GgufType::U8;
  uint64_t u = 0; // unsigned and bool
  int64_t i = 0;  // signed
  double f = 0;   // floats
  std::string_view str;
  GgufType elem = GgufType::U8; // arrays
  std::vector<GgufValue> arr;

  bool isInteger() const;
  bool isFloat() const { return type == GgufType::F32 || type == GgufType::F64; }
};

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> ne; // ggml order: ne[0] is the contiguous dimension
  uint32_t type = 0;
  uint64_t offset = 0; // from the start of the data section
  const uint8_t *data = nullptr;
  uint64_t bytes = 0;
};

struct GgufFile {
  std::string path;
  uint32_t version = 0;
  uint64_t alignment = 32;
  std::map<std::string, GgufValue, std::less<>> kv;
  std::vector<GgufTensorInfo> tensors;
  std::map<std::string, size_t, std::less<>> tensorIndex;

  const GgufValue *find(std::string_view key) const;
  // Typed getters: a present key of the wrong type is an error naming it.
  std::optional<uint64_t> getUInt(std::string_view key) const;
  std::optional<double> getFloat(std::string_view key) const;
  std::optional<std::string> getString(std::string_view key) const;
  std::optional<bool> getBool(std::string_view key) const;
  uint64_t requireUInt(std::string_view key) const;
  const GgufTensorInfo *findTensor(std::string_view name) const;
};

GgufFile parseGguf(std::span<const uint8_t> bytes, const std::string &path);

} // namespace mcc
