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
    w.quant.zero_offset = q.v1_zeros ? 1 : 0;
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
    if (N % 8 || q.group_size <= 0 || K % q.group_size)
      fail(ck_.dir, "'", mod, "': dims [", N, " x ", K, "] do not fit ", what);
    int64_t G = K / q.group_size;
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
    w.quant.group_size = q.group_size;
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

private:
  SafetensorsCheckpoint &ck_;
  const HFConfig &cfg_;
  std::set<std::string> used_;
};

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

  ModelDesc m;
  m.source = path;
  m.source_format = ck.maps.size() == 1 ? "safetensors" : cat("safetensors (", ck.maps.size(), " shards)");
  m.name = fs::absolute(dir).lexically_normal().filename().string();
  if (m.name.empty())
    m.name = fs::absolute(dir).lexically_normal().parent_path().filename().string();
  m.hp = cfg.hp;

  Builder b(ck, cfg);
  for (const WeightSpec &spec : expectedWeights(m.hp))
    m.weights.push_back(b.weight(spec));
  b.checkAllUsed();

  m.tokenizer = loadHFTokenizer(ck.dir, cfg);
  if (int64_t(m.tokenizer.tokens.size()) > m.hp.vocab)
    fail(cfgPath, "field 'vocab_size' = ", m.hp.vocab, " is smaller than the tokenizer's ",
         m.tokenizer.tokens.size(), " tokens");
  for (auto &map : ck.maps)
    m.files.push_back(map);
  return m;
}

} // namespace mcc
