// A GGUF file to the canonical ModelDesc: hyper-parameters from the
// "{arch}.*" keys, weights by canonical name, tokenizer from "tokenizer.*".
#include "format/Error.h"
#include "compiler/import/GgmlTypes.h"
#include "compiler/import/Gguf.h"
#include "compiler/import/Import.h"
#include "format/MappedFile.h"
#include "compiler/import/ModelLayout.h"

#include <algorithm>
#include <filesystem>
#include <set>

namespace mcc {

namespace {

int64_t bounded(const GgufFile &g, const std::string &key, int64_t lo, int64_t hi) {
  uint64_t v = g.requireUInt(key);
  if (v < uint64_t(lo) || v > uint64_t(hi))
    fail(g.path, "metadata '", key, "' = ", v, " is outside [", lo, ", ", hi, "]");
  return int64_t(v);
}

HyperParams hyperParams(const GgufFile &g) {
  HyperParams hp;
  std::string arch = g.getString("general.architecture").value_or("");
  if (arch.empty())
    fail(g.path, "metadata 'general.architecture' is missing");
  if (arch == "llama")
    hp.arch = Arch::Llama;
  else if (arch == "qwen2")
    hp.arch = Arch::Qwen2;
  else if (arch == "qwen3")
    hp.arch = Arch::Qwen3;
  else
    fail(g.path, "metadata 'general.architecture': unknown architecture '", arch,
         "' (llama, qwen2, qwen3 are supported)");
  hp.hf_class = arch;
  std::string a = arch + ".";
  hp.n_layers = bounded(g, a + "block_count", 1, 1024);
  hp.hidden = bounded(g, a + "embedding_length", 1, 1 << 17);
  hp.intermediate = bounded(g, a + "feed_forward_length", 1, 1 << 19);
  hp.n_heads = bounded(g, a + "attention.head_count", 1, 1024);
  hp.n_kv_heads = g.find(a + "attention.head_count_kv") ? bounded(g, a + "attention.head_count_kv", 1, 1024)
                                                        : hp.n_heads;
  if (hp.n_heads % hp.n_kv_heads)
    fail(g.path, "metadata '", a, "attention.head_count' = ", hp.n_heads, " is not a multiple of head_count_kv = ",
         hp.n_kv_heads);
  if (g.find(a + "attention.key_length")) {
    hp.head_dim = bounded(g, a + "attention.key_length", 2, 4096);
  } else {
    if (hp.hidden % hp.n_heads)
      fail(g.path, "metadata '", a, "embedding_length' is not a multiple of the head count");
    hp.head_dim = hp.hidden / hp.n_heads;
  }
  if (hp.head_dim % 2)
    fail(g.path, "head dimension ", hp.head_dim, " is odd: RoPE needs pairs");
  hp.rope_dim = g.find(a + "rope.dimension_count") ? bounded(g, a + "rope.dimension_count", 2, hp.head_dim)
                                                   : hp.head_dim;
  hp.context = g.find(a + "context_length") ? bounded(g, a + "context_length", 1, 1 << 24) : 2048;
  hp.rms_eps = float(g.getFloat(a + "attention.layer_norm_rms_epsilon").value_or(1e-6));
  hp.rope_theta = float(g.getFloat(a + "rope.freq_base").value_or(10000.0));
  if (!(hp.rms_eps > 0) || !(hp.rope_theta > 0))
    fail(g.path, "metadata '", a, "attention.layer_norm_rms_epsilon' and '", a, "rope.freq_base' must be positive");
  if (auto t = g.getString(a + "rope.scaling.type")) {
    if (*t == "linear")
      hp.rope_scaling.kind = RopeScaling::Kind::Linear;
    else if (*t == "yarn")
      hp.rope_scaling.kind = RopeScaling::Kind::Yarn;
    else if (*t != "none")
      fail(g.path, "metadata '", a, "rope.scaling.type' = '", *t, "' is not supported (none, linear, yarn)");
    hp.rope_scaling.factor = float(g.getFloat(a + "rope.scaling.factor").value_or(1.0));
    if (!(hp.rope_scaling.factor > 0))
      fail(g.path, "metadata '", a, "rope.scaling.factor' must be positive");
    hp.rope_scaling.original_context = int64_t(g.getUInt(a + "rope.scaling.original_context_length").value_or(0));
  }
  // convert_hf_to_gguf permutes llama Q/K rows so RoPE pairs adjacent dims;
  // qwen2/qwen3 files keep the HF (neox) order.
  hp.rope_style = hp.arch == Arch::Llama ? RopeStyle::Interleaved : RopeStyle::Neox;
  hp.sliding_window = int64_t(g.getUInt(a + "attention.sliding_window").value_or(0));
  hp.qkv_bias = g.findTensor("blk.0.attn_q.bias") != nullptr;
  hp.qk_norm = hp.arch == Arch::Qwen3;
  hp.tie_embeddings = g.findTensor("output.weight") == nullptr;
  return hp;
}

std::vector<std::string> stringArray(const GgufFile &g, const char *key) {
  std::vector<std::string> out;
  const GgufValue *v = g.find(key);
  if (!v)
    return out;
  if (v->type != GgufType::ARRAY || v->elem != GgufType::STRING)
    fail(g.path, "metadata '", key, "' is not an array of strings");
  out.reserve(v->arr.size());
  for (auto &e : v->arr)
    out.emplace_back(e.str);
  return out;
}

TokenizerDesc tokenizer(const GgufFile &g) {
  TokenizerDesc t;
  std::string model = g.getString("tokenizer.ggml.model").value_or("");
  if (model == "gpt2")
    t.kind = TokenizerDesc::Kind::ByteLevelBPE;
  else if (model == "llama")
    t.kind = TokenizerDesc::Kind::SentencePieceBPE;
  else if (model.empty())
    fail(g.path, "metadata 'tokenizer.ggml.model' is missing");
  else
    fail(g.path, "metadata 'tokenizer.ggml.model' = '", model, "' is not supported (gpt2, llama)");
  t.pre = g.getString("tokenizer.ggml.pre").value_or("default");
  t.tokens = stringArray(g, "tokenizer.ggml.tokens");
  if (t.tokens.empty())
    fail(g.path, "metadata 'tokenizer.ggml.tokens' is missing or empty");
  size_t n = t.tokens.size();
  t.merges = stringArray(g, "tokenizer.ggml.merges");
  if (const GgufValue *v = g.find("tokenizer.ggml.token_type")) {
    if (v->type != GgufType::ARRAY || v->elem != GgufType::I32 || v->arr.size() != n)
      fail(g.path, "metadata 'tokenizer.ggml.token_type' is not an i32 array with one entry per token");
    for (auto &e : v->arr)
      t.types.push_back(int32_t(e.i));
  } else {
    t.types.assign(n, 1);
  }
  if (const GgufValue *v = g.find("tokenizer.ggml.scores")) {
    if (v->type != GgufType::ARRAY || v->elem != GgufType::F32 || v->arr.size() != n)
      fail(g.path, "metadata 'tokenizer.ggml.scores' is not an f32 array with one entry per token");
    for (auto &e : v->arr)
      t.scores.push_back(float(e.f));
  }
  if (t.kind == TokenizerDesc::Kind::ByteLevelBPE && t.merges.empty())
    fail(g.path, "metadata 'tokenizer.ggml.merges' is missing: a gpt2 tokenizer needs its merges");
  auto id = [&](const char *key) -> int32_t {
    auto v = g.getUInt(key);
    if (!v)
      return -1;
    if (*v >= n)
      fail(g.path, "metadata '", key, "' = ", *v, " is not a token id (", n, " tokens)");
    return int32_t(*v);
  };
  t.bos = id("tokenizer.ggml.bos_token_id");
  t.eos = id("tokenizer.ggml.eos_token_id");
  t.unk = id("tokenizer.ggml.unknown_token_id");
  t.pad = id("tokenizer.ggml.padding_token_id");
  for (int32_t s : {t.eos, id("tokenizer.ggml.eot_token_id"), id("tokenizer.ggml.eom_token_id")})
    if (s >= 0 && std::find(t.stop_ids.begin(), t.stop_ids.end(), s) == t.stop_ids.end())
      t.stop_ids.push_back(s);
  bool spm = t.kind == TokenizerDesc::Kind::SentencePieceBPE;
  t.add_bos = g.getBool("tokenizer.ggml.add_bos_token").value_or(spm);
  t.add_space_prefix = g.getBool("tokenizer.ggml.add_space_prefix").value_or(spm);
  t.chat_template = g.getString("tokenizer.chat_template").value_or("");
  return t;
}

Weight weightFrom(const GgufFile &g, const GgufTensorInfo &ti, const WeightSpec &spec) {
  GgmlType gt = ggmlType(ti.type);
  std::string where = "tensor '" + ti.name + "'";
  if (!gt.format)
    fail(g.path, where, ": type ", gt.name, " is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K)");
  std::vector<int64_t> logical(ti.ne.rbegin(), ti.ne.rend());
  if (logical != spec.shape)
    fail(g.path, where, ": shape ", shapeString(logical), " but the metadata needs ", shapeString(spec.shape));
  Weight w;
  w.name = spec.name;
  w.shape = spec.shape;
  w.quant.format = *gt.format;
  if (!spec.matrix() && gt.block != 1)
    fail(g.path, where, ": a vector stored as ", gt.name, " (only F32, F16, BF16 are valid here)");
  switch (*gt.format) {
  case WeightFormat::F32: w.quant.bits = 32; break;
  case WeightFormat::F16: case WeightFormat::BF16: w.quant.bits = 16; break;
  case WeightFormat::Q8_0: w.quant.bits = 8; break;
  case WeightFormat::Q5_K: w.quant.bits = 5; break;
  case WeightFormat::Q6_K: w.quant.bits = 6; break;
  default: w.quant.bits = 4; break;
  }
  w.quant.group_size = gt.block == 1 ? 0 : (gt.block == 256 ? 32 : gt.block);
  if (*gt.format == WeightFormat::Q6_K)
    w.quant.group_size = 16;
  w.data.name = ti.name;
  w.data.file = g.path;
  w.data.dtype = DType::U8;
  w.data.shape = logical;
  w.data.data = ti.data;
  w.data.bytes = ti.bytes;
  return w;
}

} // namespace

ModelDesc importGguf(const std::string &path) {
  auto map = std::make_shared<const MappedFile>(path);
  GgufFile g = parseGguf(map->bytes(), path);
  ModelDesc m;
  m.source = path;
  m.source_format = cat("gguf v", g.version);
  m.name = g.getString("general.name").value_or(std::filesystem::path(path).stem().string());
  m.hp = hyperParams(g);
  m.tokenizer = tokenizer(g);
  if (auto v = g.getUInt(m.hp.hf_class + ".vocab_size"))
    m.hp.vocab = int64_t(*v);
  else
    m.hp.vocab = int64_t(m.tokenizer.tokens.size());
  if (m.hp.vocab < int64_t(m.tokenizer.tokens.size()) || m.hp.vocab > (1 << 22))
    fail(path, "metadata '", m.hp.hf_class, ".vocab_size' = ", m.hp.vocab, " does not fit the tokenizer's ",
         m.tokenizer.tokens.size(), " tokens");

  std::set<std::string> used;
  for (const WeightSpec &spec : expectedWeights(m.hp)) {
    std::string name = spec.name.ends_with(".bias") ? spec.name : spec.name + ".weight";
    const GgufTensorInfo *ti = g.findTensor(name);
    if (!ti)
      fail(path, "tensor '", name, "' is missing");
    used.insert(name);
    m.weights.push_back(weightFrom(g, *ti, spec));
  }
  // Llama-3 files carry precomputed RoPE frequency factors.
  if (const GgufTensorInfo *rf = g.findTensor("rope_freqs.weight")) {
    used.insert(rf->name);
    m.weights.push_back(weightFrom(g, *rf, {"rope_freqs", {m.hp.rope_dim / 2}}));
  }
  for (auto &ti : g.tensors)
    if (!used.count(ti.name))
      fail(path, "tensor '", ti.name, "' is not part of a ", m.hp.hf_class, " model with this metadata");
  m.files.push_back(std::move(map));
  return m;
}

} // namespace mcc
