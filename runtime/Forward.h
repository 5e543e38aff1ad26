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

#include "format/ModelDesc.h"
#include "kernels/Kernels.h"
#include "runtime/OwnedBytes.h"
#include "runtime/RowShares.h"
#include "runtime/ThreadPool.h"

#include <map>
#include <mutex>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mcc {

class Forward {
public:
  static constexpr int kMaxBatch = 64;

  // Throws mcc::Error if the model needs something the runtime lacks.
  // slots: independent sequences, each with its own KV cache of contextSize
  // positions (the server's parallel requests); calls work on slot 0 until
  // setSlot says otherwise.
  Forward(const ModelDesc &m, int contextSize, ThreadPool &pool, int slots = 1);

  // Runs tokens[0, n) at positions pos, pos + 1, ... (0-based), appending to
  // the KV cache. Returns the logits of the last token; with allLogits, the
  // logits of every token instead, n rows of vocab floats, valid until the
  // next call.
  const float *forward(const int32_t *tokens, int n, int pos, bool allLogits = false);
  // n <= kMaxBatch rows of any sequences in one pass: token i at position
  // pos[i] of slot slot[i] (a sequence's rows in order of position). Every
  // weight is read once for all of them. Returns the logits of the rows with
  // want[i], in order, valid until the next call.
  const float *forwardRows(const int32_t *tokens, const int *slot, const int *pos, const uint8_t *want, int n);
  int context() const { return ctx_; }
  int slots() const { return slots_; }
  // The sequence that forward(), attend() and the generated code work on.
  void setSlot(int s) { slot_ = s; }
  // Exact: every product with f32 activations. Int8 (the default):
  // batches of tokens through int8-activation kernels (kernels/QuantizedActs.h).
  void setPrecision(kernels::Precision p) { precision_ = p; }
  // What the cache keeps (kernels::KvType): f16 (the default) or int8 with
  // scales, the keys rotated first (rotateKv). Before the first token: the
  // cache starts empty again.
  void setKvType(kernels::KvType t);
  // The bytes of the key and of the value cache of `slots` sequences of
  // ctx positions holding `kv` (whole key blocks, as allocated).
  static std::pair<size_t, size_t> cacheBytes(const HyperParams &hp, int64_t ctx, int slots, kernels::KvType kv);
  // Throws mcc::Error unless tokens[0, n) are vocabulary ids that fit in the
  // context from pos (shared with Executor::forward).
  void checkRun(const int32_t *tokens, int n, int pos) const;
  const ModelDesc &model() const { return m_; }

  // What generated code calls (Executor.cpp), beside the interpreted path:
  // y[t][r] = x[t] · W[r]ᵀ (+ residual[t][r]) for rows r in [r0, r1) of w
  // and n activation rows, on the calling thread; scratch holds a
  // dequantized row (w.cols() floats) for formats without a block kernel.
  // With `prepared` (prepareActs' quantization of x), the panel kernel
  // runs on those activations instead of quantizing x again.
  void matmulShare(const Weight &w, const float *x, float *y, int n, int64_t r0, int64_t r1, const float *residual,
                   float *scratch, const kernels::QuantizedRows *prepared = nullptr) const;
  // Causal attention of n query rows over the layer's cache.
  void attend(int layer, int n, int pos, const float *q, float *out, int64_t heads, int64_t kvHeads, int64_t headDim,
              int64_t window);
  // A small weight (norm, bias) as f32, dequantized once. Thread-safe.
  const std::vector<float> &smallVector(const Weight &w);
  ThreadPool &pool() { return pool_; }
  // For generated code: the RoPE table, [position][rope_dim / 2] of cos
  // (or sin), and the cache write of one K/V head's key and value (head_dim
  // floats each, the key rotated) at a position of the current sequence.
  const float *ropeTable(bool sine) const { return sine ? sin_.data() : cos_.data(); }
  void storeKeyValue(int layer, int kvHead, int pos, const float *k, const float *v) {
    storeKey(slot_, layer, kvHead, pos, k);
    storeValue(slot_, layer, kvHead, pos, v);
  }

private:
  // Where a row of a batch belongs: its sequence and position.
  struct RowAt {
    int slot, pos;
  };
  // Head-major: each K/V head's positions are one run of memory, so
  // attention reads every head as one sequential stream (position-major
  // rows, one head's slice of each, measured 1.4-1.7x slower to read). A
  // head's keys in blocks of kernels::kKeyBlock positions (keyIndex), its
  // values in rows of head_dim; each head's run holds whole blocks
  // (kernels::keyBlockBytes, valueRowBytes: f16 or int8 with scales).
  uint8_t *keyCache(int slot, int layer, int64_t kvHead) {
    return keyCache_.data() + size_t(headIndex(slot, layer, kvHead) * ctxBlocks()) *
                                   size_t(kernels::keyBlockBytes(kv_, hp_.head_dim));
  }
  uint8_t *valueCache(int slot, int layer, int64_t kvHead) {
    return valueCache_.data() + size_t(headIndex(slot, layer, kvHead) * ctxBlocks() * kernels::kKeyBlock) *
                                     size_t(kernels::valueRowBytes(kv_, hp_.head_dim));
  }
  int64_t headIndex(int slot, int layer, int64_t kvHead) const {
    return (int64_t(slot) * hp_.n_layers + layer) * hp_.n_kv_heads + kvHead;
  }
  int64_t ctxBlocks() const { return (ctx_ + kernels::kKeyBlock - 1) / kernels::kKeyBlock; }
  void allocateCache();
  struct Layer {
    const Weight *wq, *wk, *wv, *wo, *w_gate, *w_up, *w_down;
    std::vector<float> attn_norm, ffn_norm, q_norm, k_norm; // small vectors, as f32
  };
  // Runs one batch of n <= kMaxBatch rows; the logits of rows out[0..nOut)
  // land in `logits`, in that order.
  void batch(const int32_t *tokens, int n, const RowAt *at, const int *out, int nOut, float *logits);
  // Whether a product over `rows` rows takes the int8 kernels' second pass:
  // below kIntMinTokens rows always (decoding: memory-bound, the second pass
  // is nearly free). In a step with generated tokens (rows each the next
  // token of a sequence of its own: a server's step, also one that admits a
  // prompt beside them), Q, K and V (`sensitive`) keep it at any number of
  // rows, and the logits that can matter are computed again with it
  // (refineLogits): with one pass everywhere a 4-row SmolLM2 step measured
  // mean KL 1.72e-3 / top-1 96.98 % against the fp64 reference, past the
  // project's bar for generation (half of llama.cpp's lone decode, 1.46e-3;
  // 97.84 %); so 8.3e-4 / 99.14 %, and 3 generated rows beside 8 prompt
  // rows the same (one pass there: 1.72e-3 / 96.98 %). A prompt alone (one
  // sequence) takes one pass everywhere, held to the prompt bar.
  static bool takesSecondPass(int rows, bool generating, bool sensitive) {
    return rows < kernels::kIntMinTokens || (generating && sensitive);
  }
  // Y[n][w.rows()] = X[n][w.cols()] · Wᵀ (+ the weight's bias, if it has
  // one), rows split over the threads. `secondPass`: the int8 kernels carry
  // the activations' rounding in a second pass (kernels/QuantizedActs.h;
  // takesSecondPass() says when).
  void linear(const Weight &w, const float *x, float *y, int n, bool secondPass);
  // Several weights over the same X (up to kMaxWeights) in one parallel pass.
  void linear(std::span<const Weight *const> ws, const float *x, std::span<float *const> ys, int n,
              bool secondPass);
  // ys[k] += the bias of ws[k], for the weights that have one.
  void addBiases(std::span<const Weight *const> ws, std::span<float *const> ys, int n);
  // Up to kMaxWeights weights over the same X in one parallel pass, with
  // y[0] += residual when given (one weight).
  static constexpr int kMaxWeights = 3;
  void matmul(std::span<const Weight *const> ws, const float *x, std::span<float *const> ys, int n,
              const float *residual, bool secondPass);
  // h = silu(x · gateᵀ) * (x · upᵀ) for n rows, x = x_ under ffn_norm:
  // each thread takes the same rows of both weights and applies SwiGLU to
  // its own outputs, so no thread reads what another wrote until the down
  // projection.
  void gateUpSwiglu(const Layer &L, float *h, int n, bool secondPass);
  // out = n rows of x_ under RMSNorm with weight w; returns out. The passes
  // that start with a norm do it on every thread into normed_[thread] (a few
  // microseconds each) instead of one thread alone while the other waits.
  const float *normRows(const std::vector<float> &w, int n, float *out) const;
  // x (n rows) quantized once on thread t for the products of this pass
  // that take it through w's panel kernel (same columns, same rows), or
  // nullptr where w's products quantize for themselves.
  const kernels::QuantizedRows *prepareActs(const Weight &w, const float *x, int n, int t, bool secondPass);
  // x += a · wᵀ for n rows (the residual add inside each thread's share).
  void addLinear(const Weight &w, const float *a, int n, bool secondPass);
  // xs[i] = x, or x's columns in an act-order weight's order (its columns
  // are stored grouped: the activations follow, copied into gathered_).
  void gatherColumns(std::span<const Weight *const> ws, const float *x, int n, const float **xs);
  // q, k and v of n rows (x_ under attn_norm) into q_, k_ and v_, their
  // biases, q/k norms and RoPE, and with `store` k and v into each row's
  // sequence's cache at its position. Each thread takes whole heads and
  // finishes them: a serial pass over every head read the other thread's
  // lines (0.25 of a 4.2-5.5 ms SmolLM2 step with 4 rows).
  void qkvRopeStore(const Layer &L, int layer, int n, const RowAt *at, bool store, bool secondPass);
  // A generating step's logits (nOut rows of xb_ under the output weight,
  // computed with one int8 pass): the panels holding a logit within
  // kRefineNats of its row's largest are computed again with the second
  // pass, the rest left. Each logit left weighs under e^-6 of the top
  // token's probability, so its one-pass error cannot move the top tokens
  // and barely the distribution: 4-row SmolLM2 steps, refining within 6 / 8
  // / 10 / 16 nats (~125 / 574 / 1657 / 16163 logits a row): mean KL 8.3 /
  // 8.0 / 7.8 / 7.7e-4, the whole projection in two passes 7.7e-4. That
  // whole second pass doubles the projection's integer work; at 7B (152 k
  // rows) four streams ran 31.8 tok/s with it against 34.7 refining (4
  // turns), at SmolLM2 within the noise.
  void refineLogits(float *logits, int nOut);
  static constexpr float kRefineNats = 6.0f;
  // Causal attention of n query rows, each over its own sequence's cache.
  // With kNew and vNew (rows of kvDim_ floats, each row in a sequence of
  // its own), each row's key and value are stored first, by the job that
  // reads that position: it fetches the key block's lines once, for the
  // write and the read, on the core that uses them.
  void attendRows(int layer, int n, const RowAt *at, const float *q, float *out, int64_t heads, int64_t kvHeads,
                  int64_t headDim, int64_t window, const float *kNew = nullptr, const float *vNew = nullptr);
  // One K/V head's key (a column of its block, keyIndex) or value (a row)
  // of a sequence's position, from f32.
  void storeKey(int slot, int layer, int64_t kvHead, int pos, const float *k);
  void storeValue(int slot, int layer, int64_t kvHead, int pos, const float *v);
  std::vector<RowAt> rowsOf(int n, int pos) const;

  const ModelDesc &m_;
  const HyperParams &hp_;
  int ctx_;
  int slots_, slot_ = 0;
  ThreadPool &pool_;
  RowShares rows_; // a parallel pass's work (a product's rows, attention's jobs), dealt to pool_'s threads
  const kernels::KernelTable &kt_;
  kernels::Precision precision_ = kernels::Precision::Int8;
  kernels::KvType kv_ = kernels::KvType::F16;
  std::vector<Layer> layers_;
  std::unordered_map<const Weight *, std::vector<float>> biases_; // weight -> its bias, as f32
  const Weight *embed_, *output_;
  std::vector<float> outNorm_;
  std::vector<float> invFreq_;
  int64_t qDim_, kvDim_, maxCols_ = 0;

  // Activations, kMaxBatch rows each.
  std::vector<float> x_, xb_, xb2_, q_, k_, v_, hb_, hb2_, logits_;
  std::vector<float> cos_, sin_; // [position][rope_dim / 2]
  std::vector<float> gathered_; // the activations in an act-order weight's column order
  std::map<const Weight *, std::vector<float>> small_; // std::map: references stay valid as it grows
  std::mutex smallMutex_;
  std::vector<std::vector<float>> scratch_; // per thread: a dequantized row, attention scores
  std::vector<std::vector<float>> normed_;  // per thread: normRows' output, kMaxBatch rows
  std::vector<kernels::QuantizedRows> acts_; // per thread: prepareActs' activations
  // Attention split in parts (attendRows): each part's outputs and
  // log-sum-exps.
  static constexpr int64_t kMinAttentionPart = 64;
  // Rows a thread takes of a product at a time (RowShares).
  static constexpr int64_t kProductChunk = 64;
  // At most this much of a job's keys is fetched during the job before it
  // (KernelTable::attend's `ahead`); the hardware's prefetcher carries the
  // stream on from there.
  static constexpr int64_t kAttentionAhead = 32 << 10;
  std::vector<float> partOut_, partLse_;
  // [slot][layer][kv_head][pos][head_dim] (keys in blocks), in 2 MiB pages (OwnedBytes.h).
  OwnedBytes keyCache_, valueCache_;
};

} // namespace mcc
