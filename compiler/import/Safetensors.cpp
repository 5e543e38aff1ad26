#include "compiler/import/Safetensors.h"
#include "format/Error.h"
#include "format/Half.h"
#include "format/MappedFile.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace mcc {

static bool parseDType(const std::string &s, DType &out) {
  static const std::pair<const char *, DType> table[] = {
      {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16},
      {"I64", DType::I64}, {"I32", DType::I32}, {"I16", DType::I16},
      {"I8", DType::I8},   {"U8", DType::U8}};
  for (auto &[name, t] : table)
    if (s == name) {
      out = t;
      return true;
    }
  return false;
}

static uint64_t getUInt(const json &v, const std::string &path, const std::string &what) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
    fail(path, what, " is not a non-negative integer");
  return v.get<uint64_t>();
}

SafetensorsFile parseSafetensors(std::span<const uint8_t> bytes, const std::string &path) {
  if (bytes.size() < 8)
    fail(path, "truncated: ", bytes.size(), " bytes, too short for a safetensors header length");
  uint64_t headerLen = loadU64(bytes.data());
  if (headerLen > kMaxSafetensorsHeader)
    fail(path, "header length ", headerLen, " exceeds the ", kMaxSafetensorsHeader, "-byte limit");
  if (headerLen > bytes.size() - 8)
    fail(path, "header length ", headerLen, " runs past the end of the file (", bytes.size(), " bytes)");
  const char *hb = reinterpret_cast<const char *>(bytes.data() + 8);
  json header;
  try {
    header = json::parse(hb, hb + headerLen);
  } catch (const json::exception &e) {
    fail(path, "header is not valid JSON: ", e.what());
  }
  if (!header.is_object())
    fail(path, "header is not a JSON object");

  const uint8_t *base = bytes.data() + 8 + headerLen;
  uint64_t dataSize = bytes.size() - 8 - headerLen;

  SafetensorsFile out;
  struct Extent { uint64_t begin, end; const std::string *name; };
  std::vector<Extent> extents;
  for (auto &[name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object())
        fail(path, "__metadata__ is not an object");
      for (auto &[k, v] : entry.items()) {
        if (!v.is_string())
          fail(path, "__metadata__.", k, " is not a string");
        out.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    std::string where = "tensor '" + name + "'";
    if (!entry.is_object())
      fail(path, where, ": entry is not an object");
    auto dt = entry.find("dtype"), sh = entry.find("shape"), off = entry.find("data_offsets");
    if (dt == entry.end() || !dt->is_string())
      fail(path, where, ": missing or non-string dtype");
    if (sh == entry.end() || !sh->is_array())
      fail(path, where, ": missing or non-array shape");
    if (off == entry.end() || !off->is_array() || off->size() != 2)
      fail(path, where, ": data_offsets is not a [begin, end] pair");
    TensorView t;
    t.name = name;
    t.file = path;
    if (!parseDType(dt->get<std::string>(), t.dtype))
      fail(path, where, ": unsupported dtype '", dt->get<std::string>(), "'");
    if (sh->size() > 8)
      fail(path, where, ": ", sh->size(), " dimensions is more than any model tensor has");
    // Element count with overflow checks: a hostile shape must not wrap around.
    unsigned __int128 n = 1;
    for (auto &d : *sh) {
      uint64_t v = getUInt(d, path, where + " shape dimension");
      if (v > (uint64_t(1) << 48))
        fail(path, where, ": shape dimension ", v, " is absurd");
      t.shape.push_back(int64_t(v));
      n *= v;
      if (n > (unsigned __int128)(uint64_t(1) << 50))
        fail(path, where, ": shape has too many elements");
    }
    uint64_t begin = getUInt((*off)[0], path, where + " data_offsets[0]");
    uint64_t end = getUInt((*off)[1], path, where + " data_offsets[1]");
    if (begin > end)
      fail(path, where, ": data_offsets [", begin, ", ", end, "] are reversed");
    if (end > dataSize)
      fail(path, where, ": data_offsets [", begin, ", ", end, "] run past the end of the data (",
           dataSize, " bytes)");
    uint64_t want = uint64_t(n) * dtypeSize(t.dtype);
    if (end - begin != want)
      fail(path, where, ": holds ", end - begin, " bytes but shape x ", dtypeName(t.dtype), " needs ", want);
    t.data = base + begin;
    t.bytes = end - begin;
    auto [it, fresh] = out.tensors.emplace(name, std::move(t));
    extents.push_back({begin, end, &it->first});
  }
  std::sort(extents.begin(), extents.end(),
            [](const Extent &a, const Extent &b) { return a.begin < b.begin; });
  for (size_t i = 1; i < extents.size(); ++i)
    if (extents[i].begin < extents[i - 1].end && extents[i].begin != extents[i].end)
      fail(path, "tensor '", *extents[i].name, "' overlaps tensor '", *extents[i - 1].name, "'");
  return out;
}

static void addShard(SafetensorsCheckpoint &ck, const std::string &file) {
  auto map = std::make_shared<const MappedFile>(file);
  SafetensorsFile f = parseSafetensors(map->bytes(), file);
  for (auto &[name, t] : f.tensors)
    if (!ck.tensors.emplace(name, t).second)
      fail(file, "tensor '", name, "' also appears in another shard");
  ck.maps.push_back(std::move(map));
}

static void openIndex(SafetensorsCheckpoint &ck, const std::string &indexPath) {
  auto map = std::make_shared<const MappedFile>(indexPath);
  auto b = map->bytes();
  json idx;
  try {
    idx = json::parse(b.begin(), b.end());
  } catch (const json::exception &e) {
    fail(indexPath, "not valid JSON: ", e.what());
  }
  if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
    fail(indexPath, "weight_map is missing or not an object");
  std::vector<std::string> shards;
  for (auto &[name, file] : idx["weight_map"].items()) {
    if (!file.is_string())
      fail(indexPath, "weight_map.", name, " is not a string");
    std::string f = file.get<std::string>();
    if (f.find('/') != std::string::npos || f == "..")
      fail(indexPath, "weight_map.", name, ": shard '", f, "' is not a file beside the index");
    if (std::find(shards.begin(), shards.end(), f) == shards.end())
      shards.push_back(f);
  }
  for (const std::string &s : shards)
    addShard(ck, (fs::path(ck.dir) / s).string());
  for (auto &[name, file] : idx["weight_map"].items()) {
    auto it = ck.tensors.find(name);
    if (it == ck.tensors.end())
      fail(indexPath, "weight_map lists tensor '", name, "' but shard '", file.get<std::string>(),
           "' does not hold it");
    if (fs::path(it->second.file).filename() != file.get<std::string>())
      fail(indexPath, "weight_map puts tensor '", name, "' in '", file.get<std::string>(),
           "' but it is in '", it->second.file, "'");
  }
}

// A directory without model.safetensors: AutoGPTQ names its file after the
// quantization (gptq_model-4bit-128g.safetensors), other tools after the
// model. One .safetensors file is the checkpoint; several need naming.
static std::string onlySafetensors(const std::string &dir, const char *index) {
  std::vector<std::string> found;
  std::error_code ec;
  for (const fs::directory_entry &e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".safetensors" && e.is_regular_file(ec))
      found.push_back(e.path().filename().string());
  if (ec)
    fail(dir, "cannot list this directory: ", ec.message());
  if (found.empty())
    fail(dir, "no .safetensors file and no ", index, " in this directory");
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    std::string list;
    for (const std::string &f : found)
      list += (list.empty() ? "" : ", ") + f;
    fail(dir, found.size(), " .safetensors files (", list, ") and no model.safetensors or ", index,
         ": name the one to compile");
  }
  return (fs::path(dir) / found[0]).string();
}

SafetensorsCheckpoint openSafetensors(const std::string &path) {
  SafetensorsCheckpoint ck;
  std::error_code ec;
  const char *kIndex = "model.safetensors.index.json";
  if (fs::is_directory(path, ec)) {
    ck.dir = path;
    if (fs::exists(fs::path(path) / kIndex))
      openIndex(ck, (fs::path(path) / kIndex).string());
    else if (fs::exists(fs::path(path) / "model.safetensors"))
      addShard(ck, (fs::path(path) / "model.safetensors").string());
    else
      addShard(ck, onlySafetensors(path, kIndex));
    return ck;
  }
  fs::path p(path);
  ck.dir = p.has_parent_path() ? p.parent_path().string() : ".";
  if (p.filename() == kIndex) {
    openIndex(ck, path);
    return ck;
  }
  fs::path index = fs::path(ck.dir) / kIndex;
  if (fs::exists(index) && p.filename() != "model.safetensors") {
    openIndex(ck, index.string());
    bool listed = false;
    for (auto &[n, t] : ck.tensors)
      listed |= fs::path(t.file).filename() == p.filename();
    if (!listed)
      fail(path, "not a shard listed in ", index.string());
    return ck;
  }
  addShard(ck, path);
  return ck;
}

} // namespace mcc
