#include "compiler/import/ModelLayout.h"
#include "format/Error.h"

namespace mcc {

std::vector<WeightSpec> expectedWeights(const HyperParams &hp) {
  int64_t q = hp.n_heads * hp.head_dim, kv = hp.n_kv_heads * hp.head_dim;
  std::vector<WeightSpec> w;
  w.push_back({"token_embd", {hp.vocab, hp.hidden}});
  for (int64_t l = 0; l < hp.n_layers; ++l) {
    std::string b = cat("blk.", l, ".");
    w.push_back({b + "attn_norm", {hp.hidden}});
    w.push_back({b + "attn_q", {q, hp.hidden}});
    w.push_back({b + "attn_k", {kv, hp.hidden}});
    w.push_back({b + "attn_v", {kv, hp.hidden}});
    if (hp.qkv_bias) {
      w.push_back({b + "attn_q.bias", {q}});
      w.push_back({b + "attn_k.bias", {kv}});
      w.push_back({b + "attn_v.bias", {kv}});
    }
    if (hp.qk_norm) {
      w.push_back({b + "attn_q_norm", {hp.head_dim}});
      w.push_back({b + "attn_k_norm", {hp.head_dim}});
    }
    w.push_back({b + "attn_output", {hp.hidden, q}});
    w.push_back({b + "ffn_norm", {hp.hidden}});
    w.push_back({b + "ffn_gate", {hp.intermediate, hp.hidden}});
    w.push_back({b + "ffn_up", {hp.intermediate, hp.hidden}});
    w.push_back({b + "ffn_down", {hp.hidden, hp.intermediate}});
  }
  w.push_back({"output_norm", {hp.hidden}});
  if (!hp.tie_embeddings)
    w.push_back({"output", {hp.vocab, hp.hidden}});
  return w;
}

std::string shapeString(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

} // namespace mcc
