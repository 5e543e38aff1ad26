// The payload header JSON, written and read from one field list per struct:
// a field added to a list is written and read back, and nothing else is.
#include "format/Error.h"
#include "format/Half.h"
#include "format/Integrity.h"
#include "format/Payload.h"

#include <array>
#include <nlohmann/json.hpp>

using json = nlohmann::json;

namespace mcc {

namespace {

// The field lists. Each visits (key, member) pairs of a struct; the writer
// and the reader below are the only visitors.
template <class S, class V> void ropeScalingFields(S &r, V &&v) {
  v("kind", r.kind);
  v("factor", r.factor);
  v("original_context", r.original_context);
  v("low_freq_factor", r.low_freq_factor);
  v("high_freq_factor", r.high_freq_factor);
  v("beta_fast", r.beta_fast);
  v("beta_slow", r.beta_slow);
  v("attn_factor", r.attn_factor);
}

template <class S, class V> void hyperParamFields(S &h, V &&v) {
  v("arch", h.arch);
  v("hf_class", h.hf_class);
  v("n_layers", h.n_layers);
  v("hidden", h.hidden);
  v("intermediate", h.intermediate);
  v("n_heads", h.n_heads);
  v("n_kv_heads", h.n_kv_heads);
  v("head_dim", h.head_dim);
  v("vocab", h.vocab);
  v("context", h.context);
  v("rms_eps", h.rms_eps);
  v("rope_theta", h.rope_theta);
  v("rope_dim", h.rope_dim);
  v("rope_style", h.rope_style);
  v("rope_scaling", h.rope_scaling);
  v("tie_embeddings", h.tie_embeddings);
  v("qkv_bias", h.qkv_bias);
  v("qk_norm", h.qk_norm);
  v("sliding_window", h.sliding_window);
}

template <class S, class V> void tokenizerFields(S &t, V &&v) {
  v("kind", t.kind);
  v("pre", t.pre);
  v("pre_regexes", t.pre_regexes);
  v("tokens", t.tokens);
  v("scores", t.scores);
  v("types", t.types);
  v("merges", t.merges);
  v("bos", t.bos);
  v("eos", t.eos);
  v("unk", t.unk);
  v("pad", t.pad);
  v("stop_ids", t.stop_ids);
  v("add_bos", t.add_bos);
  v("add_space_prefix", t.add_space_prefix);
  v("chat_template", t.chat_template);
}

template <class S, class V> void quantizationFields(S &q, V &&v) {
  v("format", q.format);
  v("bits", q.bits);
  v("group_size", q.group_size);
  v("sym", q.sym);
  v("zero_code", q.zero_code);
  v("act_order", q.act_order);
  v("scale_dtype", q.scale_dtype);
  v("panels", q.panels);
}

template <class S, class V> void viewFields(S &t, V &&v) {
  v("name", t.name);
  v("dtype", t.dtype);
  v("shape", t.shape);
  v("bytes", t.bytes);
}

template <class S, class V> void codeFields(S &c, V &&v) {
  v("target", c.target);
  v("triple", c.triple);
  v("needs", c.needs);
  v("offset", c.offset);
  v("bytes", c.bytes);
  v("entries", c.entries);
  v("workspace_floats", c.workspace_floats);
}

// Enums are stored by name; a name this runtime does not know is an error,
// never a silent default.
template <class E> struct EnumNames;
template <> struct EnumNames<Arch> {
  static constexpr int count = 4;
  static const char *name(Arch a) { return archName(a); }
  static constexpr const char *what = "architecture";
};
template <> struct EnumNames<RopeStyle> {
  static constexpr int count = 2;
  static const char *name(RopeStyle s) { return ropeStyleName(s); }
  static constexpr const char *what = "rope style";
};
template <> struct EnumNames<RopeScaling::Kind> {
  static constexpr int count = 5;
  static const char *name(RopeScaling::Kind k) { return ropeScalingName(k); }
  static constexpr const char *what = "rope scaling kind";
};
template <> struct EnumNames<WeightFormat> {
  static constexpr int count = kLastWeightFormat + 1;
  static const char *name(WeightFormat f) { return formatName(f); }
  static constexpr const char *what = "weight format";
};
template <> struct EnumNames<DType> {
  static constexpr int count = 8;
  static const char *name(DType d) { return dtypeName(d); }
  static constexpr const char *what = "dtype";
};
template <> struct EnumNames<TokenizerDesc::Kind> {
  static constexpr int count = 2;
  static const char *name(TokenizerDesc::Kind k) { return tokenizerKindName(k); }
  static constexpr const char *what = "tokenizer kind";
};

template <> struct EnumNames<ZeroCode> {
  static constexpr int count = 3;
  static const char *name(ZeroCode z) { return zeroCodeName(z); }
  static constexpr const char *what = "zero-point coding";
};

template <class T> concept Named = requires { EnumNames<T>::count; };

struct Writer {
  json &j;
  template <class T> void operator()(const char *key, const T &x) { j[key] = encode(x); }

  template <class T> static json encode(const T &x) {
    if constexpr (Named<T>)
      return EnumNames<T>::name(x);
    else if constexpr (std::is_same_v<T, RopeScaling>) {
      json r = json::object();
      ropeScalingFields(x, Writer{r});
      return r;
    } else
      return x;
  }
};

struct Reader {
  const json &j;
  const std::string &path;
  std::string section;

  template <class T> void operator()(const char *key, T &x) {
    std::string field = section + "." + key;
    if (!j.is_object() || !j.contains(key))
      fail(path, "payload header: field '", field, "' is missing: corrupted, or written by another mcc");
    try {
      decode(j[key], x, field);
    } catch (const json::exception &e) {
      fail(path, "payload header: field '", field, "' has the wrong type (", e.what(), ")");
    }
  }

  template <class T> void decode(const json &v, T &x, const std::string &field) {
    if constexpr (Named<T>) {
      std::string s = v.get<std::string>();
      for (int i = 0; i < EnumNames<T>::count; ++i)
        if (s == EnumNames<T>::name(T(i))) {
          x = T(i);
          return;
        }
      fail(path, "payload header: unknown ", EnumNames<T>::what, " '", s, "' in '", field,
           "': written by a newer mcc?");
    } else if constexpr (std::is_same_v<T, RopeScaling>) {
      ropeScalingFields(x, Reader{v, path, field});
    } else {
      x = v.get<T>();
    }
  }
};

template <class S, class F> json write(const S &s, F fields) {
  json j = json::object();
  fields(s, Writer{j});
  return j;
}

// j[key], which must be an object; `name` is how messages call it.
const json &section(const json &j, const char *key, const std::string &name, const std::string &path) {
  if (!j.contains(key) || !j[key].is_object())
    fail(path, "payload header: section '", name, "' is missing: corrupted, or written by another mcc");
  return j[key];
}

template <class S, class F> void read(const json &j, const char *key, S &s, F fields, const std::string &path,
                                      const std::string &in = "") {
  std::string name = in.empty() ? key : in + "." + key;
  fields(s, Reader{section(j, key, name, path), path, name});
}

#define MCC_FIELDS(list) [](auto &s, auto &&v) { list(s, v); }

} // namespace

std::string writePayloadHeader(const PayloadHeader &h) {
  const ModelDesc &m = h.model;
  size_t k = 0;
  json weights = json::array();
  for (const Weight &w : m.weights) {
    json e = {{"name", w.name}, {"shape", w.shape}, {"quant", write(w.quant, MCC_FIELDS(quantizationFields))}};
    forEachViewOf(w, [&](const char *part, const TensorView &t) {
      json v = write(t, MCC_FIELDS(viewFields));
      v["offset"] = h.offsets.at(k++);
      e[part] = std::move(v);
    });
    weights.push_back(std::move(e));
  }
  json j = {
      {"name", m.name},
      {"source", m.source},
      {"source_format", m.source_format},
      {"hp", write(m.hp, MCC_FIELDS(hyperParamFields))},
      {"tokenizer", write(m.tokenizer, MCC_FIELDS(tokenizerFields))},
      {"weights", weights},
  };
  const PackInfo &p = h.pack;
  if (p.zstd) {
    json chunks = json::array();
    for (const PackedChunk &c : p.chunks)
      chunks.push_back({c.raw_bytes, c.offset, c.packed_bytes});
    j["pack"] = {{"mode", "zstd"}, {"level", p.level}, {"chunks", chunks}};
  }
  j["integrity"] = {{"model_hash", modelHash(p.hashes)},
                    {"data_bytes", p.raw_bytes},
                    {"chunk_bytes", p.chunk_bytes},
                    {"hashes", p.hashes}};
  j["precision"] = h.precision;
  if (!h.codes.empty()) {
    json codes = json::array();
    for (const CodeView &c : h.codes)
      codes.push_back(write(c, MCC_FIELDS(codeFields)));
    j["codes"] = codes;
  }
  // Tokens may hold invalid UTF-8 (byte pieces); keep them byte-exact.
  return j.dump(-1, ' ', false, json::error_handler_t::strict);
}

PayloadHeader readPayloadHeader(const uint8_t *text, uint64_t size, const std::string &path) {
  json j;
  try {
    j = json::parse(text, text + size);
  } catch (const json::exception &e) {
    fail(path, "payload header is not JSON: ", e.what());
  }
  if (!j.is_object())
    fail(path, "payload header is not a JSON object: corrupted");
  PayloadHeader h;
  ModelDesc &m = h.model;
  Reader r{j, path, "header"};
  r("name", m.name);
  r("source", m.source);
  r("source_format", m.source_format);
  read(j, "hp", m.hp, MCC_FIELDS(hyperParamFields), path);
  read(j, "tokenizer", m.tokenizer, MCC_FIELDS(tokenizerFields), path);

  if (!j.contains("weights") || !j["weights"].is_array())
    fail(path, "payload header: section 'weights' is missing: corrupted");
  for (const json &e : j["weights"]) {
    Weight w;
    Reader we{e, path, "weights[]"};
    we("name", w.name);
    we("shape", w.shape);
    std::string in = "weight '" + w.name + "'";
    read(e, "quant", w.quant, MCC_FIELDS(quantizationFields), path, in);
    auto view = [&](const char *part, TensorView &t) {
      read(e, part, t, MCC_FIELDS(viewFields), path, in);
      uint64_t off;
      Reader{e[part], path, in + "." + part}("offset", off);
      t.file = path;
      h.offsets.push_back(off);
    };
    view("data", w.data);
    auto optional = [&](const char *part, std::optional<TensorView> &t) {
      if (e.contains(part))
        view(part, t.emplace());
    };
    optional("scales", w.scales);
    optional("zeros", w.zeros);
    optional("g_idx", w.g_idx);
    optional("perm", w.perm);
    m.weights.push_back(std::move(w));
  }

  PackInfo &p = h.pack;
  Reader in{section(j, "integrity", "integrity", path), path, "integrity"};
  in("model_hash", h.model_hash);
  in("data_bytes", p.raw_bytes);
  in("chunk_bytes", p.chunk_bytes);
  in("hashes", p.hashes);
  if (p.chunk_bytes < 4096 || p.chunk_bytes > (uint64_t(1) << 32) ||
      p.hashes.size() != (p.raw_bytes + p.chunk_bytes - 1) / p.chunk_bytes)
    fail(path, "payload: the chunk hash table does not fit the weight data: corrupted");
  if (j.contains("pack")) {
    Reader pk{section(j, "pack", "pack", path), path, "pack"};
    std::string mode;
    pk("mode", mode);
    if (mode != "zstd")
      fail(path, "payload: unknown packing '", mode, "'");
    p.zstd = true;
    pk("level", p.level);
    std::vector<std::array<uint64_t, 3>> chunks;
    pk("chunks", chunks);
    for (auto &c : chunks)
      p.chunks.push_back({c[0], c[1], c[2]});
  }
  if (j.contains("precision")) {
    if (!j["precision"].is_string() || (j["precision"] != "fast" && j["precision"] != "exact"))
      fail(path, "payload header: field 'precision' is not fast or exact: corrupted");
    h.precision = j["precision"].get<std::string>();
  }
  if (j.contains("codes")) {
    if (!j["codes"].is_array())
      fail(path, "payload header: field 'codes' has the wrong type: corrupted");
    for (const json &e : j["codes"]) {
      CodeView &c = h.codes.emplace_back();
      codeFields(c, Reader{e, path, "codes[]"});
      if (c.workspace_floats < 0 || c.workspace_floats > (int64_t(1) << 34))
        fail(path, "payload: absurd workspace size for the generated code");
    }
  }
  return h;
}

void bindViews(PayloadHeader &h, const uint8_t *data, uint64_t size, const std::string &path) {
  size_t k = 0;
  forEachView(h.model, [&](const char *, TensorView &t) {
    uint64_t off = h.offsets.at(k++);
    if (off > size || t.bytes > size - off)
      fail(path, "payload: tensor '", t.name, "' lies outside the weight data: truncated or corrupted");
    t.data = data + off;
  });
  for (Weight &w : h.model.weights) {
    if (w.scales)
      w.quant.scale_dtype = w.scales->dtype;
    if (w.perm) {
      if (w.perm->bytes != uint64_t(w.cols()) * 4)
        fail(path, "payload: tensor '", w.perm->name, "' does not hold one int32 per column");
      for (int64_t c = 0; c < w.cols(); ++c)
        if (loadU32(w.perm->data + 4 * c) >= uint64_t(w.cols()))
          fail(path, "payload: tensor '", w.perm->name, "' names a column past the last: corrupted");
    }
  }
  for (CodeView &c : h.codes) {
    if (c.offset > size || c.bytes > size - c.offset)
      fail(path, "payload: the generated code for ", c.target, " lies outside the data: truncated or corrupted");
    c.text = data + c.offset;
  }
}

std::string whatLiesIn(const PayloadHeader &h, uint64_t from, uint64_t to) {
  auto overlaps = [&](uint64_t off, uint64_t bytes) { return off < to && off + bytes > from; };
  std::vector<std::string> names;
  size_t k = 0;
  for (const Weight &w : h.model.weights) {
    bool hit = false;
    forEachViewOf(w, [&](const char *, const TensorView &t) { hit |= overlaps(h.offsets.at(k++), t.bytes); });
    if (hit)
      names.push_back("'" + w.name + "'");
  }
  for (const CodeView &c : h.codes)
    if (overlaps(c.offset, c.bytes))
      names.push_back("the generated code for " + c.target);
  if (names.empty())
    return "padding";
  std::string s = names.size() == 1 ? "holds " : "holds parts of ";
  for (size_t i = 0; i < names.size() && i < 3; ++i)
    s += (i ? ", " : "") + names[i];
  if (names.size() > 3)
    s += cat(" and ", names.size() - 3, " more");
  return s;
}

} // namespace mcc
