// The forward pass of the decoder-only families mcc supports (LLaMA, SmolLM,
// Mistral, Qwen2/2.5, Qwen3), readable top to bottom in Forward.cpp.
//
// This is the runtime path that the generated code (the compiler issue)
// replaces: same inputs (ModelDesc weights, KV cache), same outputs (logits).
#pragma once

#include "compiler/import/ModelDesc.h"
#include "kernels/Kernels.h"
#include "runtime/ThreadPool.h"

#include <vector>

namespace mcc {

class Forward {
public:
  // Throws mcc::Error if the model needs something the runtime lacks.
  // int8Activations selects the faster, less exact kernels (Kernels.h).
  Forward(const ModelDesc &m, int contextSize, ThreadPool &pool, bool int8Activations = false);

  // Runs one token at position pos (0-based) and returns the logits.
  const float *step(int32_t token, int pos);
  int context() const { return ctx_; }
  const ModelDesc &model() const { return m_; }

private:
  struct Layer {
    const Weight *attn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv, *q_norm, *k_norm;
    const Weight *ffn_norm, *w_gate, *w_up, *w_down;
  };
  void matvec(const Weight &w, const float *x, float *y, bool prepared = false);
  void rmsnorm(float *out, const float *x, const Weight &w, int64_t n);
  void rope(float *v, int pos);
  void attention(int layer, int pos);

  const ModelDesc &m_;
  const HyperParams &hp_;
  int ctx_;
  ThreadPool &pool_;
  const kernels::DotTable &dot_;
  std::vector<Layer> layers_;
  const Weight *embed_, *outNorm_, *output_, *ropeFreqs_;
  std::vector<float> invFreq_;

  // Activations.
  std::vector<float> x_, xb_, xb2_, q_, k_, v_, hb_, hb2_, att_, logits_, vecTmp_;
  std::vector<kernels::QBlock8> xq_;
  std::vector<float> xsum_;
  bool int8_;
  std::vector<std::vector<float>> scratch_; // one dequantized row per thread
  std::vector<float> keyCache_, valueCache_;  // [layer][pos][kv_heads * head_dim]
};

} // namespace mcc
