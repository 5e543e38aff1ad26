// A Hugging Face checkpoint directory (safetensors + config.json + tokenizer)
// to the canonical ModelDesc. GPTQ and AWQ tensors are checked against each
// other and against the config before anything reads them.
#include "format/Error.h"
#include "compiler/import/HFConfig.h"
#include "compiler/import/HFTokenizer.h"
#include "format/Half.h"
#include "compiler/import/Import.h"
#include "format/MappedFile.h"
#include "compiler/import/ModelLayout.h"
#include "compiler/import/Safetensors.h"

#include <filesystem>
#include <optional>
#include <set>

namespace fs = std::filesystem;

namespace mcc {

namespace {

// Canonical name -> Hugging Face module name (without .weight/.qweight).
std::string hfModule(const std::string &canon) {
  if (canon == "token_embd") return "model.embed_tokens";
  if (canon == "output_norm") return "model.norm";
  if (canon == "output") return "lm_head";
  // blk.N.x
  size_t dot = canon.find('.', 4);
  std::string layer = canon.substr(4, dot - 4), part = canon.substr(dot + 1);
  static const std::pair<const char *, const char *> parts[] = {
      {"attn_norm", "input_layernorm"},   {"attn_q", "self_attn.q_proj"},
      {"attn_k", "self_attn.k_proj"},     {"attn_v", "self_attn.v_proj"},
      {"attn_output", "self_attn.o_proj"}, {"attn_q_norm", "self_attn.q_norm"},
      {"attn_k_norm", "self_attn.k_norm"}, {"ffn_norm", "post_attention_layernorm"},
      {"ffn_gate", "mlp.gate_proj"},      {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"}};
  for (auto &[c, h] : parts)
    if (part == c)
      return "model.layers." + layer + "." + h;
  return canon;
}

class Builder {
public:
  Builder(SafetensorsCheckpoint &ck, const HFConfig &cfg) : ck_(ck), cfg_(cfg) {}

  const TensorView *find(const std::string &name) {
    auto it = ck_.tensors.find(name);
    if (it == ck_.tensors.end())
      return nullptr;
    used_.insert(name);
    return &it->second;
  }

  const TensorView &need(const std::string &name, const std::string &why) {
    if (const TensorView *t = find(name))
      return *t;
    fail(ck_.dir, "tensor '", name, "' is missing", why);
  }

  static void checkShape(const TensorView &t, const std::vector<int64_t> &want, const std::string &what) {
    if (t.shape != want)
      fail(t.file, "tensor '", t.name, "': shape ", shapeString(t.shape), " but ", what, " needs ",
           shapeString(want));
  }

  static void checkDType(const TensorView &t, std::initializer_list<DType> ok, const char *what) {
    for (DType d : ok)
      if (t.dtype == d)
        return;
    fail(t.file, "tensor '", t.name, "': dtype ", dtypeName(t.dtype), " is not valid for ", what);
  }

  Weight floatWeight(const WeightSpec &spec, const TensorView &t) {
    checkDType(t, {DType::F32, DType::F16, DType::BF16}, "an unquantized weight");
    checkShape(t, spec.shape, "the config");
    Weight w;
    w.name = spec.name;
    w.shape = spec.shape;
    w.data = t;
    w.quant.format = t.dtype == DType::F32 ? WeightFormat::F32
                     : t.dtype == DType::F16 ? WeightFormat::F16 : WeightFormat::BF16;
    w.quant.bits = t.dtype == DType::F32 ? 32 : 16;
    return w;
  }

  Weight gptqWeight(const WeightSpec &spec, const std::string &mod) {
    const QuantConfig &q = cfg_.quant;
    int64_t N = spec.shape[0], K = spec.shape[1];
    int pack = 32 / q.bits;
    std::string what = cat("GPTQ int", q.bits, " g", q.group_size, " [", N, " x ", K, "]");
    if (K % pack || N % pack)
      fail(ck_.dir, "'", mod, "': dims [", N, " x ", K, "] are not multiples of ", pack, " as ", what, " packs them");
    int64_t G = q.group_size > 0 ? (K + q.group_size - 1) / q.group_size : 1;
    Weight w;
    w.name = spec.name;
    w.shape = spec.shape;
    w.data = need(mod + ".qweight", "");
    w.zeros = need(mod + ".qzeros", " (GPTQ needs qweight, qzeros and scales together)");
    w.scales = need(mod + ".scales", " (GPTQ needs qweight, qzeros and scales together)");
    checkDType(w.data, {DType::I32}, "GPTQ qweight");
    checkDType(*w.zeros, {DType::I32}, "GPTQ qzeros");
    checkDType(*w.scales, {DType::F16, DType::BF16, DType::F32}, "GPTQ scales");
    checkShape(w.data, {K / pack, N}, what);
    checkShape(*w.zeros, {G, N / pack}, what);
    checkShape(*w.scales, {G, N}, what);
    w.quant.format = WeightFormat::GPTQ;
    w.quant.bits = q.bits;
    w.quant.group_size = q.group_size > 0 ? q.group_size : K;
    w.quant.sym = q.sym;
    // v1 zeros are read back the way the tool that wrote them reads them.
    w.quant.zero_code = !q.v1_zeros ? ZeroCode::Stored
                        : q.writer.starts_with("AutoGPTQ") ? ZeroCode::V1Field : ZeroCode::V1Word;
    w.quant.scale_dtype = w.scales->dtype;
    if (const TensorView *g = find(mod + ".g_idx")) {
      checkDType(*g, {DType::I32}, "GPTQ g_idx");
      checkShape(*g, {K}, what);
      for (int64_t r = 0; r < K; ++r) {
        int32_t v = int32_t(loadU32(g->data + 4 * r));
        if (v < 0 || v >= G)
          fail(g->file, "tensor '", g->name, "': g_idx[", r, "] = ", v, " is outside [0, ", G, ")");
        if (v != r / w.quant.group_size)
          w.quant.act_order = true;
      }
      // A trivial g_idx says nothing the group size does not; drop it so
      // later stages see one representation of plain grouping.
      if (w.quant.act_order)
        w.g_idx = *g;
    } else if (q.desc_act) {
      fail(ck_.dir, "tensor '", mod, ".g_idx' is missing but ", q.source, " sets desc_act");
    }
    return w;
  }

  Weight awqWeight(const WeightSpec &spec, const std::string &mod) {
    const QuantConfig &q = cfg_.quant;
    int64_t N = spec.shape[0], K = spec.shape[1];
    std::string what = cat("AWQ int4 g", q.group_size, " [", N, " x ", K, "]");
    int64_t group = q.group_size > 0 ? q.group_size : K;
    if (N % 8 || K % group)
      fail(ck_.dir, "'", mod, "': dims [", N, " x ", K, "] do not fit ", what);
    int64_t G = K / group;
    Weight w;
    w.name = spec.name;
    w.shape = spec.shape;
    w.data = need(mod + ".qweight", "");
    w.zeros = need(mod + ".qzeros", " (AWQ needs qweight, qzeros and scales together)");
    w.scales = need(mod + ".scales", " (AWQ needs qweight, qzeros and scales together)");
    checkDType(w.data, {DType::I32}, "AWQ qweight");
    checkDType(*w.zeros, {DType::I32}, "AWQ qzeros");
    checkDType(*w.scales, {DType::F16, DType::BF16, DType::F32}, "AWQ scales");
    checkShape(w.data, {K, N / 8}, what);
    checkShape(*w.zeros, {G, N / 8}, what);
    checkShape(*w.scales, {G, N}, what);
    w.quant.format = WeightFormat::AWQ;
    w.quant.bits = 4;
    w.quant.group_size = group;
    w.quant.sym = q.sym;
    w.quant.scale_dtype = w.scales->dtype;
    return w;
  }

  Weight weight(const WeightSpec &spec) {
    std::string mod = hfModule(spec.name);
    if (spec.name.ends_with(".bias")) {
      std::string hf = hfModule(spec.name.substr(0, spec.name.size() - 5)) + ".bias";
      return floatWeight(spec, need(hf, ""));
    }
    if (const TensorView *t = find(mod + ".weight"))
      return floatWeight(spec, *t);
    if (spec.matrix() && ck_.tensors.count(mod + ".qweight")) {
      switch (cfg_.quant.method) {
      case QuantConfig::Method::GPTQ: return gptqWeight(spec, mod);
      case QuantConfig::Method::AWQ: return awqWeight(spec, mod);
      case QuantConfig::Method::None:
        fail(ck_.dir, "tensor '", mod, ".qweight' is quantized but there is no quantization config "
             "(config.json quantization_config, quantize_config.json or quant_config.json)");
      }
    }
    fail(ck_.dir, "tensor '", mod, ".weight' is missing");
  }

  // A bias beside a linear the architecture defines without one: AutoGPTQ
  // before 2024 saved a (zero) bias for every quantized Linear. All zero, it
  // is dropped; otherwise it becomes `<name>.bias` and the graph adds it.
  std::optional<Weight> extraBias(const WeightSpec &spec) {
    std::string hf = hfModule(spec.name) + ".bias";
    const TensorView *t = find(hf);
    if (!t)
      return std::nullopt;
    WeightSpec b{spec.name + ".bias", {spec.shape[0]}};
    Weight w = floatWeight(b, *t);
    bool wide = t->dtype == DType::F32;
    for (uint64_t i = 0; i < t->bytes; i += wide ? 4 : 2) {
      uint32_t magnitude = wide ? loadU32(t->data + i) & 0x7FFFFFFFu : loadU16(t->data + i) & 0x7FFFu; // -0 is 0
      if (magnitude) {
        ++biasesApplied;
        return w;
      }
    }
    ++biasesDropped;
    return std::nullopt;
  }

  void checkAllUsed() {
    for (auto &[name, t] : ck_.tensors) {
      if (used_.count(name))
        continue;
      if (name.ends_with("rotary_emb.inv_freq"))
        continue; // a cache some exporters save; RoPE is recomputed from the config
      if (name == "lm_head.weight" && cfg_.hp.tie_embeddings)
        continue; // a copy of the embedding saved beside tied weights
      fail(t.file, "tensor '", name, "' is not part of a ", cfg_.hp.hf_class, " with this config");
    }
  }

  int biasesApplied = 0, biasesDropped = 0;

private:
  SafetensorsCheckpoint &ck_;
  const HFConfig &cfg_;
  std::set<std::string> used_;
};

// How the file's GPTQ/AWQ tensors were written, as far as the config and
// the tensors tell: the lines `mcc inspect` prints under "conventions".
std::vector<std::pair<std::string, std::string>> conventions(const ModelDesc &m, const QuantConfig &q, int applied,
                                                             int dropped) {
  std::vector<std::pair<std::string, std::string>> c;
  c.emplace_back("writer", q.writer.empty() ? "not recorded in the config" : q.writer);
  bool gptq = q.method == QuantConfig::Method::GPTQ;
  c.emplace_back("packing", !gptq ? "AWQ GEMM: 8 columns a word, order 0 2 4 6 1 3 5 7"
                            : !q.v1_zeros ? "GPTQ v2 (checkpoint_format gptq_v2): qzeros stored as they are"
                            : q.writer.starts_with("AutoGPTQ")
                                ? "GPTQ v1 (checkpoint_format gptq), AutoGPTQ's coding: each field z - 1, read (f + 1) & mask"
                                : "GPTQ v1 (checkpoint_format gptq): qzeros words minus 0x11111111 with borrow, read "
                                  "back with carry");
  c.emplace_back("zero points", q.sym ? "symmetric (declared)" : "asymmetric");
  int quantized = 0, actOrder = 0;
  for (const Weight &w : m.weights)
    if (w.quant.format == WeightFormat::GPTQ || w.quant.format == WeightFormat::AWQ) {
      ++quantized;
      actOrder += w.quant.act_order;
    }
  c.emplace_back("act-order", actOrder ? cat(actOrder, " of ", quantized, " quantized linears (g_idx permutes groups)")
                              : gptq && q.desc_act ? "declared (desc_act), but every g_idx is row / group_size"
                                                   : "none");
  c.emplace_back("bias", applied + dropped == 0 ? "none beside the architecture's own"
                         : cat(dropped, " all-zero biases dropped, ", applied, " non-zero applied"));
  const Weight *out = m.find(m.hp.tie_embeddings ? "token_embd" : "output");
  c.emplace_back("lm_head", m.hp.tie_embeddings ? cat("tied to the embedding (", describe(out->quant), ")")
                            : out->quant.format == WeightFormat::GPTQ || out->quant.format == WeightFormat::AWQ
                                ? cat("quantized (", describe(out->quant), ")")
                                : cat("not quantized (", describe(out->quant), ")"));
  return c;
}

std::string readText(const std::string &path) {
  MappedFile f(path);
  return std::string(reinterpret_cast<const char *>(f.bytes().data()), f.size());
}

} // namespace

ModelDesc importSafetensors(const std::string &path) {
  SafetensorsCheckpoint ck = openSafetensors(path);
  fs::path dir(ck.dir);
  std::string cfgPath = (dir / "config.json").string();
  if (!fs::exists(cfgPath))
    fail(cfgPath, "missing: mcc needs config.json beside the safetensors checkpoint");
  HFConfig cfg = parseHFConfig(readText(cfgPath), cfgPath);
  if (cfg.quant.method == QuantConfig::Method::None) {
    for (const char *f : {"quantize_config.json", "quant_config.json"}) {
      std::string qp = (dir / f).string();
      if (fs::exists(qp)) {
        cfg.quant = parseQuantConfig(readText(qp), qp);
        break;
      }
    }
  }

  // AutoGPTQ's default file name marks it as the writer when its config
  // does not (files saved before model_file_base_name existed).
  if (cfg.quant.writer.empty())
    for (const auto &map : ck.maps)
      if (fs::path(map->path()).filename().string().starts_with("gptq_model-"))
        cfg.quant.writer = "AutoGPTQ (by its file name)";

  ModelDesc m;
  m.source = path;
  m.source_format = ck.maps.size() == 1 ? "safetensors" : cat("safetensors (", ck.maps.size(), " shards)");
  m.name = fs::absolute(dir).lexically_normal().filename().string();
  if (m.name.empty())
    m.name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  m.hp = cfg.hp;

  Builder b(ck, cfg);
  std::vector<WeightSpec> specs = expectedWeights(m.hp);
  std::set<std::string> expected;
  for (const WeightSpec &spec : specs)
    expected.insert(spec.name);
  for (const WeightSpec &spec : specs) {
    m.weights.push_back(b.weight(spec));
    if (spec.matrix() && spec.name != "token_embd" && !expected.count(spec.name + ".bias"))
      if (std::optional<Weight> bias = b.extraBias(spec))
        m.weights.push_back(std::move(*bias));
  }
  b.checkAllUsed();
  if (cfg.quant.method != QuantConfig::Method::None)
    m.conventions = conventions(m, cfg.quant, b.biasesApplied, b.biasesDropped);

  m.tokenizer = loadHFTokenizer(ck.dir, cfg);
  if (int64_t(m.tokenizer.tokens.size()) > m.hp.vocab)
    fail(cfgPath, "field 'vocab_size' = ", m.hp.vocab, " is smaller than the tokenizer's ",
         m.tokenizer.tokens.size(), " tokens");
  for (auto &map : ck.maps)
    m.files.push_back(map);
  return m;
}

} // namespace mcc
