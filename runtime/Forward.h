// The forward pass of the decoder-only families mcc supports (LLaMA, SmolLM,
// Mistral, Qwen2/2.5, Qwen3), readable top to bottom in Forward.cpp.
//
// Tokens go through in batches: one token when decoding, up to kMaxBatch
// prompt tokens per pass when prefilling, so every weight matrix is read once
// per batch and multiplied with all of its rows (matrix-matrix products).
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
  static constexpr int kMaxBatch = 64;

  // Throws mcc::Error if the model needs something the runtime lacks.
  Forward(const ModelDesc &m, int contextSize, ThreadPool &pool);

  // Runs tokens[0, n) at positions pos, pos + 1, ... (0-based), appending to
  // the KV cache. Returns the logits of the last token; with allLogits, the
  // logits of every token instead, n rows of vocab floats, valid until the
  // next call.
  const float *forward(const int32_t *tokens, int n, int pos, bool allLogits = false);
  int context() const { return ctx_; }
  const ModelDesc &model() const { return m_; }

private:
  struct Layer {
    const Weight *wq, *wk, *wv, *wo, *w_gate, *w_up, *w_down;
    std::vector<float> attn_norm, ffn_norm, q_norm, k_norm, bq, bk, bv; // small vectors, as f32
  };
  // Runs one batch of n <= kMaxBatch tokens; logits of its last `outRows`
  // tokens land in `logits`.
  void batch(const int32_t *tokens, int n, int pos, int outRows, float *logits);
  // Y[n][w.rows()] = X[n][w.cols()] · Wᵀ, rows split over the threads.
  void matmul(const Weight &w, const float *x, float *y, int n);
  void attention(int layer, int n, int pos);

  const ModelDesc &m_;
  const HyperParams &hp_;
  int ctx_;
  ThreadPool &pool_;
  const kernels::KernelTable &kt_;
  std::vector<Layer> layers_;
  const Weight *embed_, *output_;
  std::vector<float> outNorm_;
  std::vector<float> invFreq_;
  int64_t qDim_, kvDim_;

  // Activations, kMaxBatch rows each.
  std::vector<float> x_, xb_, xb2_, q_, k_, v_, hb_, hb2_, cos_, sin_, logits_;
  std::vector<float> gathered_; // the activations in an act-order weight's column order
  std::vector<std::vector<float>> scratch_; // per thread: a dequantized row, attention scores
  std::vector<uint16_t> keyCache_, valueCache_; // f16, [layer][pos][kv_heads * head_dim]
};

} // namespace mcc
