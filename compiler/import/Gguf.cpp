#include "compiler/import/Gguf.h"
#include "format/Error.h"
#include "compiler/import/GgmlTypes.h"
#include "format/Half.h"

#include <algorithm>
#include <cstring>

namespace mcc {

const char *ggufTypeName(GgufType t) {
  static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                "bool", "string", "array", "u64", "i64", "f64"};
  auto i = uint32_t(t);
  return i < 13 ? names[i] : "?";
}

bool GgufValue::isInteger() const {
  switch (type) {
  case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
  case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64:
    return true;
  default:
    return false;
  }
}

namespace {

constexpr uint32_t kMaxDims = 4;       // GGML_MAX_DIMS
constexpr int kMaxArrayNesting = 4;    // real files nest arrays at most once
constexpr uint64_t kMaxKeyLen = 65535; // keys are short ASCII paths

// A bounds-checked little-endian cursor over the file image.
class Reader {
public:
  Reader(std::span<const uint8_t> b, const std::string &path) : b_(b), path_(path) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return b_.size() - pos_; }
  const uint8_t *at(uint64_t off) const { return b_.data() + off; }
  uint64_t size() const { return b_.size(); }

  void need(uint64_t n, const std::string &what) {
    if (n > left())
      fail(path_, what, " runs past the end of the file (needs ", n, " bytes at offset ", pos_,
           ", ", left(), " left)");
  }
  template <typename T> T read(const std::string &what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string_view str(const std::string &what, uint64_t maxLen = UINT64_MAX) {
    uint64_t n = read<uint64_t>(what + " length");
    if (n > maxLen)
      fail(path_, what, " length ", n, " is absurd");
    need(n, what);
    std::string_view s(reinterpret_cast<const char *>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }

private:
  std::span<const uint8_t> b_;
  const std::string &path_;
  uint64_t pos_ = 0;
};

uint64_t minEncodedSize(GgufType t) {
  switch (t) {
  case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
  case GgufType::U16: case GgufType::I16: return 2;
  case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
  case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
  case GgufType::STRING: return 8;
  case GgufType::ARRAY: return 12;
  }
  return 1;
}

GgufValue readValue(Reader &r, GgufType t, const std::string &key, const std::string &path, int depth) {
  GgufValue v;
  v.type = t;
  switch (t) {
  case GgufType::U8: v.u = r.read<uint8_t>(key); break;
  case GgufType::I8: v.i = r.read<int8_t>(key); break;
  case GgufType::U16: v.u = r.read<uint16_t>(key); break;
  case GgufType::I16: v.i = r.read<int16_t>(key); break;
  case GgufType::U32: v.u = r.read<uint32_t>(key); break;
  case GgufType::I32: v.i = r.read<int32_t>(key); break;
  case GgufType::U64: v.u = r.read<uint64_t>(key); break;
  case GgufType::I64: v.i = r.read<int64_t>(key); break;
  case GgufType::F32: v.f = r.read<float>(key); break;
  case GgufType::F64: v.f = r.read<double>(key); break;
  case GgufType::BOOL: {
    uint8_t b = r.read<uint8_t>(key);
    if (b > 1)
      fail(path, "metadata '", key, "': bool value ", int(b), " is neither 0 nor 1");
    v.u = b;
    break;
  }
  case GgufType::STRING: v.str = r.str("metadata '" + key + "' string"); break;
  case GgufType::ARRAY: {
    if (depth >= kMaxArrayNesting)
      fail(path, "metadata '", key, "': arrays nested too deeply");
    uint32_t et = r.read<uint32_t>(key + " array type");
    if (et > uint32_t(GgufType::F64))
      fail(path, "metadata '", key, "': unknown array element type ", et);
    v.elem = GgufType(et);
    uint64_t n = r.read<uint64_t>(key + " array length");
    if (n > r.left() / minEncodedSize(v.elem))
      fail(path, "metadata '", key, "': array length ", n, " runs past the end of the file");
    v.arr.reserve(n);
    for (uint64_t k = 0; k < n; ++k)
      v.arr.push_back(readValue(r, v.elem, key, path, depth + 1));
    break;
  }
  default:
    fail(path, "metadata '", key, "': unknown value type ", uint32_t(t));
  }
  return v;
}

} // namespace

GgufFile parseGguf(std::span<const uint8_t> bytes, const std::string &path) {
  GgufFile g;
  g.path = path;
  Reader r(bytes, path);
  if (bytes.size() < 4 || std::memcmp(bytes.data(), "GGUF", 4) != 0)
    fail(path, "bad magic: not a GGUF file");
  r.read<uint32_t>("magic");
  g.version = r.read<uint32_t>("version");
  if (g.version != 2 && g.version != 3)
    fail(path, "GGUF version ", g.version, " is not supported (2 and 3 are)");
  uint64_t nTensors = r.read<uint64_t>("tensor count");
  uint64_t nKv = r.read<uint64_t>("metadata count");
  // Each key/value takes at least 8 (key length) + 4 (type) + 1 bytes, each
  // tensor info at least 8 + 4 + 8 + 4 + 8: a count that cannot fit is hostile.
  if (nKv > r.left() / 13)
    fail(path, "metadata count ", nKv, " cannot fit in the file");
  if (nTensors > r.left() / 32)
    fail(path, "tensor count ", nTensors, " cannot fit in the file");

  for (uint64_t k = 0; k < nKv; ++k) {
    std::string key(r.str("metadata key", kMaxKeyLen));
    uint32_t t = r.read<uint32_t>("metadata '" + key + "' type");
    if (t > uint32_t(GgufType::F64))
      fail(path, "metadata '", key, "': unknown value type ", t);
    GgufValue v = readValue(r, GgufType(t), key, path, 0);
    if (!g.kv.emplace(key, std::move(v)).second)
      fail(path, "metadata '", key, "' appears twice");
  }
  if (auto a = g.find("general.alignment")) {
    if (!a->isInteger() || a->u == 0 || a->u > (1u << 20) || (a->u & (a->u - 1)))
      fail(path, "metadata 'general.alignment' must be a power of two up to 1 MiB");
    g.alignment = a->u;
  }

  g.tensors.reserve(nTensors);
  for (uint64_t k = 0; k < nTensors; ++k) {
    GgufTensorInfo ti;
    ti.name = std::string(r.str("tensor name", kMaxKeyLen));
    std::string where = "tensor '" + ti.name + "'";
    uint32_t nd = r.read<uint32_t>(where + " dims");
    if (nd == 0 || nd > kMaxDims)
      fail(path, where, ": ", nd, " dimensions (1 to ", kMaxDims, " allowed)");
    unsigned __int128 n = 1;
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t e = r.read<uint64_t>(where + " shape");
      if (e == 0 || e > (uint64_t(1) << 40))
        fail(path, where, ": dimension ", d, " is ", e);
      n *= e;
      if (n > (unsigned __int128)(uint64_t(1) << 48))
        fail(path, where, ": too many elements");
      ti.ne.push_back(e);
    }
    ti.type = r.read<uint32_t>(where + " type");
    ti.offset = r.read<uint64_t>(where + " offset");
    GgmlType gt = ggmlType(ti.type);
    if (!gt.name || !gt.bytes)
      fail(path, where, ": unknown ggml type id ", ti.type);
    if (ti.ne[0] % gt.block)
      fail(path, where, ": row length ", ti.ne[0], " is not a multiple of the ", gt.name,
           " block size ", gt.block);
    ti.bytes = uint64_t(n / gt.block) * gt.bytes;
    if (!g.tensorIndex.emplace(ti.name, g.tensors.size()).second)
      fail(path, where, " appears twice");
    g.tensors.push_back(std::move(ti));
  }

  uint64_t dataStart = (r.pos() + g.alignment - 1) / g.alignment * g.alignment;
  if (dataStart > bytes.size() && !g.tensors.empty())
    fail(path, "truncated: data section starts past the end of the file");
  uint64_t dataSize = dataStart <= bytes.size() ? bytes.size() - dataStart : 0;
  std::vector<std::pair<uint64_t, const GgufTensorInfo *>> order;
  for (auto &ti : g.tensors) {
    if (ti.offset % g.alignment)
      fail(path, "tensor '", ti.name, "': offset ", ti.offset, " is not aligned to ", g.alignment);
    if (ti.offset > dataSize || ti.bytes > dataSize - ti.offset)
      fail(path, "tensor '", ti.name, "': bytes [", ti.offset, ", ", ti.offset + ti.bytes,
           ") run past the end of the data section (", dataSize, " bytes): file truncated?");
    ti.data = bytes.data() + dataStart + ti.offset;
    order.push_back({ti.offset, &ti});
  }
  std::sort(order.begin(), order.end(),
            [](auto &a, auto &b) { return a.first < b.first; });
  for (size_t i = 1; i < order.size(); ++i)
    if (order[i].first < order[i - 1].first + order[i - 1].second->bytes)
      fail(path, "tensor '", order[i].second->name, "' overlaps tensor '", order[i - 1].second->name, "'");
  return g;
}

const GgufValue *GgufFile::find(std::string_view key) const {
  auto it = kv.find(key);
  return it == kv.end() ? nullptr : &it->second;
}

std::optional<uint64_t> GgufFile::getUInt(std::string_view key) const {
  const GgufValue *v = find(key);
  if (!v)
    return {};
  if (!v->isInteger())
    fail(path, "metadata '", key, "' is ", ggufTypeName(v->type), ", expected an integer");
  if (v->type == GgufType::I8 || v->type == GgufType::I16 || v->type == GgufType::I32 ||
      v->type == GgufType::I64) {
    if (v->i < 0)
      fail(path, "metadata '", key, "' is negative (", v->i, ")");
    return uint64_t(v->i);
  }
  return v->u;
}

uint64_t GgufFile::requireUInt(std::string_view key) const {
  auto v = getUInt(key);
  if (!v)
    fail(path, "metadata '", key, "' is missing");
  return *v;
}

std::optional<double> GgufFile::getFloat(std::string_view key) const {
  const GgufValue *v = find(key);
  if (!v)
    return {};
  if (v->isFloat())
    return v->f;
  if (v->isInteger())
    return double(*getUInt(key));
  fail(path, "metadata '", key, "' is ", ggufTypeName(v->type), ", expected a number");
}

std::optional<std::string> GgufFile::getString(std::string_view key) const {
  const GgufValue *v = find(key);
  if (!v)
    return {};
  if (v->type != GgufType::STRING)
    fail(path, "metadata '", key, "' is ", ggufTypeName(v->type), ", expected a string");
  return std::string(v->str);
}

std::optional<bool> GgufFile::getBool(std::string_view key) const {
  const GgufValue *v = find(key);
  if (!v)
    return {};
  if (v->type != GgufType::BOOL)
    fail(path, "metadata '", key, "' is ", ggufTypeName(v->type), ", expected a bool");
  return v->u != 0;
}

const GgufTensorInfo *GgufFile::findTensor(std::string_view name) const {
  auto it = tensorIndex.find(name);
  return it == tensorIndex.end() ? nullptr : &tensors[it->second];
}

} // namespace mcc

