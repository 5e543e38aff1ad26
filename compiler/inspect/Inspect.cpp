#include "compiler/inspect/Inspect.h"
#include "format/Error.h"

#include <cstdio>
#include <sstream>

using ojson = nlohmann::ordered_json;

namespace mcc {

ModelStats computeStats(const ModelDesc &m) {
  ModelStats s;
  for (const Weight &w : m.weights) {
    s.parameters += w.elements();
    s.weight_bytes += w.storedBytes();
    s.bytes_per_token += w.storedBytes();
    if (w.name == "token_embd" && !m.hp.tie_embeddings)
      s.bytes_per_token -= w.storedBytes() - w.storedBytes() / uint64_t(w.rows());
  }
  s.kv_bytes_per_token_f16 = uint64_t(2 * m.hp.n_layers * m.hp.n_kv_heads * m.hp.head_dim * 2);
  return s;
}

static std::string weightClass(const std::string &name) {
  std::string n = name;
  if (n.rfind("blk.", 0) == 0)
    n = n.substr(n.find('.', 4) + 1);
  if (n.ends_with(".bias"))
    return "bias";
  if (n.ends_with("norm"))
    return "norms";
  return n;
}

ojson quantizationByClass(const ModelDesc &m) {
  ojson out = ojson::object();
  for (const Weight &w : m.weights) {
    std::string c = weightClass(w.name);
    std::string d = describe(w.quant);
    if (!out.contains(c))
      out[c] = ojson::object();
    out[c][d] = out[c].value(d, 0) + 1;
  }
  return out;
}

static ojson tokenJson(const TokenizerDesc &t, int32_t id) {
  if (id < 0)
    return nullptr;
  return ojson{{"id", id}, {"text", t.tokens[size_t(id)]}};
}

static ojson conventionsJson(const ModelDesc &m) {
  ojson c = ojson::object();
  for (const auto &[what, finding] : m.conventions)
    c[what] = finding;
  return c;
}

ojson inspectJson(const ModelDesc &m) {
  const HyperParams &hp = m.hp;
  ModelStats s = computeStats(m);
  const TokenizerDesc &t = m.tokenizer;
  ojson rope = {{"theta", hp.rope_theta},
                {"dim", hp.rope_dim},
                {"style", hp.rope_style == RopeStyle::Neox ? "neox" : "interleaved"},
                {"scaling", ropeScalingName(hp.rope_scaling.kind)}};
  if (hp.rope_scaling.kind != RopeScaling::Kind::None) {
    rope["factor"] = hp.rope_scaling.factor;
    rope["original_context"] = hp.rope_scaling.original_context;
  }
  ojson stops = ojson::array();
  for (int32_t id : t.stop_ids)
    stops.push_back(tokenJson(t, id));
  return ojson{
      {"file", m.source},
      {"format", m.source_format},
      {"name", m.name},
      {"architecture", archName(hp.arch)},
      {"source_architecture", hp.hf_class},
      {"layers", hp.n_layers},
      {"hidden", hp.hidden},
      {"intermediate", hp.intermediate},
      {"heads", hp.n_heads},
      {"kv_heads", hp.n_kv_heads},
      {"head_dim", hp.head_dim},
      {"vocab", hp.vocab},
      {"context", hp.context},
      {"rms_norm_eps", hp.rms_eps},
      {"rope", rope},
      {"tied_embeddings", hp.tie_embeddings},
      {"qkv_bias", hp.qkv_bias},
      {"qk_norm", hp.qk_norm},
      {"sliding_window", hp.sliding_window},
      {"quantization", quantizationByClass(m)},
      {"parameters", s.parameters},
      {"weight_bytes", s.weight_bytes},
      {"bytes_per_token", s.bytes_per_token},
      {"kv_bytes_per_token_f16", s.kv_bytes_per_token_f16},
      {"tokenizer",
       {{"kind", tokenizerKindName(t.kind)},
        {"pre", t.pre},
        {"tokens", t.tokens.size()},
        {"merges", t.merges.size()},
        {"add_bos", t.add_bos},
        {"bos", tokenJson(t, t.bos)},
        {"eos", tokenJson(t, t.eos)},
        {"unk", tokenJson(t, t.unk)},
        {"pad", tokenJson(t, t.pad)},
        {"stop", stops}}},
      {"chat_template", !t.chat_template.empty()},
      {"conventions", conventionsJson(m)},
  };
}

static std::string human(double bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.2f %s" : "%.0f %s", bytes, units[u]);
  return buf;
}

std::string inspectText(const ModelDesc &m) {
  ojson j = inspectJson(m);
  const HyperParams &hp = m.hp;
  ModelStats s = computeStats(m);
  std::ostringstream o;
  auto line = [&](const char *k, const std::string &v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%-18s", k);
    o << buf << v << "\n";
  };
  auto tok = [&](const ojson &t) {
    return t.is_null() ? std::string("-") : cat(t["id"].get<int>(), " ", t["text"].dump());
  };
  line("file:", m.source);
  line("format:", m.source_format);
  line("name:", m.name);
  line("architecture:", cat(archName(hp.arch), " (", hp.hf_class, ")"));
  line("layers:", cat(hp.n_layers));
  line("hidden:", cat(hp.hidden));
  line("intermediate:", cat(hp.intermediate));
  line("heads:", cat(hp.n_heads, " (kv ", hp.n_kv_heads, ", head_dim ", hp.head_dim, ")"));
  line("vocab:", cat(hp.vocab));
  line("context:", cat(hp.context));
  char eps[32];
  std::snprintf(eps, sizeof eps, "%g", double(hp.rms_eps));
  line("rms_norm_eps:", eps);
  std::string rope = cat("theta ", j["rope"]["theta"].dump(), ", dim ", hp.rope_dim, ", ",
                         j["rope"]["style"].get<std::string>(), ", scaling ", ropeScalingName(hp.rope_scaling.kind));
  if (hp.rope_scaling.kind != RopeScaling::Kind::None)
    rope += cat(" x", hp.rope_scaling.factor, " from ", hp.rope_scaling.original_context);
  line("rope:", rope);
  line("tied embeddings:", hp.tie_embeddings ? "yes" : "no");
  line("qkv bias:", hp.qkv_bias ? "yes" : "no");
  line("qk norm:", hp.qk_norm ? "yes" : "no");
  line("sliding window:", hp.sliding_window ? cat(hp.sliding_window) : "none");
  o << "quantization:\n";
  for (auto &[cls, fmts] : j["quantization"].items()) {
    std::string v;
    for (auto &[f, n] : fmts.items())
      v += cat(v.empty() ? "" : ", ", f, " x", n.get<int>());
    char buf[24];
    std::snprintf(buf, sizeof buf, "  %-16s", cls.c_str());
    o << buf << v << "\n";
  }
  char params[32];
  std::snprintf(params, sizeof params, "%.2f M", double(s.parameters) / 1e6);
  line("parameters:", cat(s.parameters, " (", params, ")"));
  line("weight bytes:", cat(s.weight_bytes, " (", human(double(s.weight_bytes)), ")"));
  line("bytes/token:", cat(s.bytes_per_token, " (", human(double(s.bytes_per_token)), ")"));
  line("kv bytes/token:", cat(s.kv_bytes_per_token_f16, " (f16 cache)"));
  const ojson &t = j["tokenizer"];
  line("tokenizer:", cat(t["kind"].get<std::string>(), ", pre ", t["pre"].get<std::string>(), ", ",
                         t["tokens"].get<size_t>(), " tokens, ", t["merges"].get<size_t>(), " merges",
                         t["add_bos"].get<bool>() ? ", adds bos" : ""));
  line("bos:", tok(t["bos"]));
  line("eos:", tok(t["eos"]));
  line("unk:", tok(t["unk"]));
  line("pad:", tok(t["pad"]));
  std::string stops;
  for (auto &x : t["stop"])
    stops += (stops.empty() ? "" : "; ") + tok(x);
  line("stop tokens:", stops.empty() ? "-" : stops);
  line("chat template:", j["chat_template"].get<bool>() ? "yes" : "no");
  if (!m.conventions.empty()) {
    o << "conventions:\n";
    for (const auto &[what, finding] : m.conventions) {
      char buf[24];
      std::snprintf(buf, sizeof buf, "  %-16s", (what + ":").c_str());
      o << buf << finding << "\n";
    }
  }
  return o.str();
}

} // namespace mcc
