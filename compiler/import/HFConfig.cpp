#include "compiler/import/HFConfig.h"
#include "format/Error.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

using json = nlohmann::json;

namespace mcc {

namespace {

json parseJson(std::string_view text, const std::string &path) {
  try {
    json j = json::parse(text.begin(), text.end());
    if (!j.is_object())
      fail(path, "not a JSON object");
    return j;
  } catch (const json::exception &e) {
    fail(path, "not valid JSON: ", e.what());
  }
}

// A field that may be absent or null; present with the wrong type is an error.
const json *opt(const json &j, const char *key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

int64_t getInt(const json &j, const char *key, const std::string &path, int64_t lo, int64_t hi,
               std::optional<int64_t> dflt = {}) {
  const json *v = opt(j, key);
  if (!v) {
    if (dflt)
      return *dflt;
    fail(path, "field '", key, "' is missing");
  }
  if (!v->is_number_integer())
    fail(path, "field '", key, "' is not an integer");
  int64_t x = v->get<int64_t>();
  if (x < lo || x > hi)
    fail(path, "field '", key, "' = ", x, " is outside [", lo, ", ", hi, "]");
  return x;
}

double getNum(const json &j, const char *key, const std::string &path, double dflt) {
  const json *v = opt(j, key);
  if (!v)
    return dflt;
  if (!v->is_number())
    fail(path, "field '", key, "' is not a number");
  double x = v->get<double>();
  if (!std::isfinite(x))
    fail(path, "field '", key, "' is not finite");
  return x;
}

bool getBool(const json &j, const char *key, const std::string &path, bool dflt) {
  const json *v = opt(j, key);
  if (!v)
    return dflt;
  if (!v->is_boolean())
    fail(path, "field '", key, "' is not a bool");
  return v->get<bool>();
}

std::string getStr(const json &j, const char *key, const std::string &path, std::string dflt) {
  const json *v = opt(j, key);
  if (!v)
    return dflt;
  if (!v->is_string())
    fail(path, "field '", key, "' is not a string");
  return v->get<std::string>();
}

std::vector<int32_t> getIds(const json &j, const char *key, const std::string &path) {
  std::vector<int32_t> ids;
  const json *v = opt(j, key);
  if (!v)
    return ids;
  auto one = [&](const json &x) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX)
      fail(path, "field '", key, "' holds something that is not a token id");
    ids.push_back(int32_t(x.get<int64_t>()));
  };
  if (v->is_array())
    for (auto &x : *v)
      one(x);
  else
    one(*v);
  return ids;
}

QuantConfig quantFromJson(const json &q, const std::string &path) {
  QuantConfig c;
  c.source = path;
  std::string method = getStr(q, "quant_method", path, "");
  // AutoAWQ's quant_config.json has no quant_method but w_bit/q_group_size.
  if (method.empty())
    method = q.contains("w_bit") ? "awq" : "gptq";
  std::transform(method.begin(), method.end(), method.begin(), ::tolower);
  if (method == "gptq") {
    c.method = QuantConfig::Method::GPTQ;
    c.bits = int(getInt(q, "bits", path, 1, 32));
    if (c.bits != 4 && c.bits != 8)
      fail(path, "field 'bits' = ", c.bits, ": GPTQ with ", c.bits, " bits is not supported (4 and 8 are)");
    c.group_size = getInt(q, "group_size", path, -1, 1 << 20, -1);
    c.desc_act = getBool(q, "desc_act", path, false);
    c.sym = getBool(q, "sym", path, true);
    std::string fmt = getStr(q, "checkpoint_format", path, getStr(q, "format", path, "gptq"));
    // AutoGPTQ marks its Marlin repack with a flag, GPTQModel with the format;
    // either way the tensors are Marlin tiles (B, s), not qweight/qzeros.
    if (getBool(q, "is_marlin_format", path, false) || fmt == "marlin")
      fail(path, q.contains("is_marlin_format") ? "field 'is_marlin_format' = true" : "field 'checkpoint_format' = 'marlin'",
           ": Marlin-packed checkpoints are not read; compile the GPTQ checkpoint it was converted from "
           "(checkpoint_format gptq or gptq_v2)");
    // GPTQModel signs its files in meta.quantizer ("gptqmodel:2.0.0", a
    // string or a list); AutoGPTQ names the weights file in its config.
    if (q.contains("meta") && q["meta"].is_object() && q["meta"].contains("quantizer")) {
      const json &who = q["meta"]["quantizer"];
      std::string first = who.is_string() ? who.get<std::string>()
                          : who.is_array() && !who.empty() && who[0].is_string() ? who[0].get<std::string>() : "";
      if (first.rfind("gptqmodel:", 0) == 0)
        c.writer = "GPTQModel " + first.substr(10);
      else if (!first.empty())
        c.writer = first;
    } else if (q.contains("model_file_base_name")) {
      c.writer = "AutoGPTQ";
    }
    if (fmt == "gptq")
      c.v1_zeros = true;
    else if (fmt == "gptq_v2")
      c.v1_zeros = false;
    else
      fail(path, "field 'checkpoint_format' = '", fmt, "' is not supported (gptq, gptq_v2)");
  } else if (method == "awq") {
    c.method = QuantConfig::Method::AWQ;
    c.bits = int(q.contains("w_bit") ? getInt(q, "w_bit", path, 1, 32) : getInt(q, "bits", path, 1, 32));
    if (c.bits != 4)
      fail(path, "field 'bits' = ", c.bits, ": AWQ with ", c.bits, " bits is not supported (4 is)");
    // -1: one group over the whole input dimension, as AutoAWQ's GEMM allows.
    c.group_size = q.contains("q_group_size") ? getInt(q, "q_group_size", path, -1, 1 << 20)
                                              : getInt(q, "group_size", path, -1, 1 << 20);
    c.sym = !getBool(q, "zero_point", path, true);
    c.v1_zeros = false;
    c.writer = q.contains("w_bit") ? "AutoAWQ" : "AutoAWQ (as transformers saves its config)";
    std::string version = getStr(q, "version", path, "gemm");
    std::transform(version.begin(), version.end(), version.begin(), ::tolower);
    if (version != "gemm")
      fail(path, "field 'version' = '", version, "': only the AWQ GEMM packing is supported");
  } else {
    fail(path, "field 'quant_method' = '", method, "' is not supported (gptq, awq)");
  }
  if (c.group_size == 0 || c.group_size < -1)
    fail(path, "field 'group_size' = ", c.group_size, " is not a group size");
  return c;
}

RopeScaling ropeScalingFromJson(const json &j, const std::string &path) {
  RopeScaling rs;
  const json *v = opt(j, "rope_scaling");
  if (!v)
    return rs;
  if (!v->is_object())
    fail(path, "field 'rope_scaling' is not an object");
  std::string kind = getStr(*v, "rope_type", path, getStr(*v, "type", path, "default"));
  if (kind == "default")
    return rs;
  if (kind == "linear")
    rs.kind = RopeScaling::Kind::Linear;
  else if (kind == "dynamic")
    rs.kind = RopeScaling::Kind::Dynamic;
  else if (kind == "yarn")
    rs.kind = RopeScaling::Kind::Yarn;
  else if (kind == "llama3")
    rs.kind = RopeScaling::Kind::Llama3;
  else
    fail(path, "field 'rope_scaling.rope_type' = '", kind, "' is not supported (linear, dynamic, yarn, llama3)");
  rs.factor = float(getNum(*v, "factor", path, 1.0));
  if (rs.factor <= 0)
    fail(path, "field 'rope_scaling.factor' must be positive");
  rs.original_context = getInt(*v, "original_max_position_embeddings", path, 0, 1 << 24, 0);
  rs.low_freq_factor = float(getNum(*v, "low_freq_factor", path, 1.0));
  rs.high_freq_factor = float(getNum(*v, "high_freq_factor", path, 4.0));
  rs.beta_fast = float(getNum(*v, "beta_fast", path, 32.0));
  rs.beta_slow = float(getNum(*v, "beta_slow", path, 1.0));
  rs.attn_factor = float(getNum(*v, "attention_factor", path, 1.0));
  return rs;
}

} // namespace

QuantConfig parseQuantConfig(std::string_view text, const std::string &path) {
  return quantFromJson(parseJson(text, path), path);
}

HFConfig parseHFConfig(std::string_view text, const std::string &path) {
  json j = parseJson(text, path);
  HFConfig c;
  HyperParams &hp = c.hp;

  std::string cls;
  if (const json *a = opt(j, "architectures")) {
    if (!a->is_array() || a->empty() || !(*a)[0].is_string())
      fail(path, "field 'architectures' is not a list of names");
    cls = (*a)[0].get<std::string>();
  } else {
    fail(path, "field 'architectures' is missing");
  }
  static const std::pair<const char *, Arch> known[] = {
      {"LlamaForCausalLM", Arch::Llama}, {"Qwen2ForCausalLM", Arch::Qwen2},
      {"Qwen3ForCausalLM", Arch::Qwen3}, {"MistralForCausalLM", Arch::Mistral}};
  auto it = std::find_if(std::begin(known), std::end(known), [&](auto &k) { return cls == k.first; });
  if (it == std::end(known))
    fail(path, "architecture '", cls,
         "' is not supported (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, MistralForCausalLM)");
  hp.arch = it->second;
  hp.hf_class = cls;

  hp.n_layers = getInt(j, "num_hidden_layers", path, 1, 1024);
  hp.hidden = getInt(j, "hidden_size", path, 1, 1 << 17);
  hp.intermediate = getInt(j, "intermediate_size", path, 1, 1 << 19);
  hp.n_heads = getInt(j, "num_attention_heads", path, 1, 1024);
  hp.n_kv_heads = getInt(j, "num_key_value_heads", path, 1, 1024, hp.n_heads);
  if (hp.n_heads % hp.n_kv_heads)
    fail(path, "field 'num_attention_heads' = ", hp.n_heads, " is not a multiple of 'num_key_value_heads' = ",
         hp.n_kv_heads);
  if (opt(j, "head_dim")) {
    hp.head_dim = getInt(j, "head_dim", path, 1, 4096);
  } else {
    if (hp.hidden % hp.n_heads)
      fail(path, "field 'hidden_size' = ", hp.hidden, " is not a multiple of 'num_attention_heads' = ", hp.n_heads);
    hp.head_dim = hp.hidden / hp.n_heads;
  }
  if (hp.head_dim % 2)
    fail(path, "head_dim ", hp.head_dim, " is odd: RoPE needs pairs");
  hp.rope_dim = hp.head_dim;
  hp.vocab = getInt(j, "vocab_size", path, 1, 1 << 22);
  hp.context = getInt(j, "max_position_embeddings", path, 1, 1 << 24, 2048);
  hp.rms_eps = float(getNum(j, "rms_norm_eps", path, 1e-6));
  if (hp.rms_eps <= 0)
    fail(path, "field 'rms_norm_eps' must be positive");
  hp.rope_theta = float(getNum(j, "rope_theta", path, 10000.0));
  if (hp.rope_theta <= 0)
    fail(path, "field 'rope_theta' must be positive");
  hp.rope_style = RopeStyle::Neox;
  hp.rope_scaling = ropeScalingFromJson(j, path);
  hp.tie_embeddings = getBool(j, "tie_word_embeddings", path, false);

  switch (hp.arch) {
  case Arch::Llama:
    hp.qkv_bias = getBool(j, "attention_bias", path, false);
    break;
  case Arch::Qwen2:
    hp.qkv_bias = true;
    break;
  case Arch::Qwen3:
    hp.qkv_bias = getBool(j, "attention_bias", path, false);
    hp.qk_norm = true;
    break;
  case Arch::Mistral:
    break;
  }
  if (hp.arch == Arch::Mistral) {
    hp.sliding_window = getInt(j, "sliding_window", path, 0, 1 << 24, 0);
  } else if (hp.arch == Arch::Qwen2 || hp.arch == Arch::Qwen3) {
    if (getBool(j, "use_sliding_window", path, false))
      hp.sliding_window = getInt(j, "sliding_window", path, 0, 1 << 24, 0);
  }

  std::vector<int32_t> bos = getIds(j, "bos_token_id", path);
  if (!bos.empty())
    c.bos = bos[0];
  c.eos = getIds(j, "eos_token_id", path);

  if (const json *q = opt(j, "quantization_config")) {
    if (!q->is_object())
      fail(path, "field 'quantization_config' is not an object");
    c.quant = quantFromJson(*q, path);
  }
  return c;
}

} // namespace mcc
