#include "runtime/Forward.h"
#include "runtime/Sampler.h"
#include "format/Dequant.h"
#include "format/Error.h"
#include "format/Half.h"
#include "format/Panel.h"

#include <algorithm>
#include <atomic>
#include <cmath>

namespace mcc {

namespace {
const Weight *need(const ModelDesc &m, const std::string &name) {
  const Weight *w = m.find(name);
  if (!w)
    throw Error(cat(m.name, ": weight '", name, "' is missing"));
  return w;
}

std::vector<float> vectorOf(const ModelDesc &m, const std::string &name) {
  const Weight *w = need(m, name);
  std::vector<float> v(size_t(w->elements()));
  dequantizeRow(*w, 0, v.data());
  return v;
}

// Rotates one head vector by the angles whose cos/sin are given (rope_dim / 2
// of each). Neox pairs (i, i + d/2); interleaved pairs (2i, 2i + 1).
void ropeHead(float *v, const float *cs, const float *sn, int64_t half, bool interleaved) {
  for (int64_t i = 0; i < half; ++i) {
    float *x0 = interleaved ? v + 2 * i : v + i;
    float *x1 = interleaved ? v + 2 * i + 1 : v + i + half;
    float u = *x0, w = *x1;
    *x0 = u * cs[i] - w * sn[i];
    *x1 = u * sn[i] + w * cs[i];
  }
}
} // namespace

Forward::Forward(const ModelDesc &m, int contextSize, ThreadPool &pool, int slots)
    : m_(m), hp_(m.hp), ctx_(contextSize), slots_(slots), pool_(pool), rows_(pool.size()),
      kt_(kernels::bestTable()) {
  if (hp_.rope_scaling.kind == RopeScaling::Kind::Yarn || hp_.rope_scaling.kind == RopeScaling::Kind::Dynamic)
    throw Error(cat(m.name, ": rope scaling '", ropeScalingName(hp_.rope_scaling.kind),
                    "' is not supported by the runtime yet"));
  for (int64_t l = 0; l < hp_.n_layers; ++l) {
    std::string b = cat("blk.", l, ".");
    Layer L{};
    L.attn_norm = vectorOf(m, b + "attn_norm");
    L.wq = need(m, b + "attn_q");
    L.wk = need(m, b + "attn_k");
    L.wv = need(m, b + "attn_v");
    L.wo = need(m, b + "attn_output");
    if (hp_.qk_norm) {
      L.q_norm = vectorOf(m, b + "attn_q_norm");
      L.k_norm = vectorOf(m, b + "attn_k_norm");
    }
    L.ffn_norm = vectorOf(m, b + "ffn_norm");
    L.w_gate = need(m, b + "ffn_gate");
    L.w_up = need(m, b + "ffn_up");
    L.w_down = need(m, b + "ffn_down");
    layers_.push_back(std::move(L));
  }
  for (const Weight &w : m.weights)
    if (w.name.ends_with(".bias"))
      biases_[need(m, w.name.substr(0, w.name.size() - 5))] = vectorOf(m, w.name);
  embed_ = need(m, "token_embd");
  outNorm_ = vectorOf(m, "output_norm");
  output_ = hp_.tie_embeddings ? embed_ : need(m, "output");
  // A JIT table's kernels for every matrix shape now, at start-up, not
  // inside the first token.
  if (kt_.prepare)
    for (const Weight &w : m.weights)
      if (w.quant.panels)
        kt_.prepare(w.quant.format, w.cols());

  // RoPE frequencies, with the context-extension rules folded in once.
  int64_t half = hp_.rope_dim / 2;
  std::vector<float> factors(size_t(half), 1.0f);
  if (const Weight *f = m.find("rope_freqs"))
    dequantizeRow(*f, 0, factors.data());
  const RopeScaling &rs = hp_.rope_scaling;
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(double(hp_.rope_theta), -2.0 * double(i) / double(hp_.rope_dim)) / factors[size_t(i)];
    if (rs.kind == RopeScaling::Kind::Linear) {
      f /= rs.factor;
    } else if (rs.kind == RopeScaling::Kind::Llama3) {
      double orig = double(rs.original_context);
      double lowWave = orig / rs.low_freq_factor, highWave = orig / rs.high_freq_factor;
      double wave = 2 * M_PI / f;
      if (wave > lowWave) {
        f /= rs.factor;
      } else if (wave >= highWave) {
        double smooth = (orig / wave - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        f = (1 - smooth) * f / rs.factor + smooth * f;
      }
    }
    invFreq_.push_back(float(f));
  }

  qDim_ = hp_.n_heads * hp_.head_dim;
  kvDim_ = hp_.n_kv_heads * hp_.head_dim;
  size_t B = kMaxBatch;
  x_.resize(B * size_t(hp_.hidden));
  xb_.resize(B * size_t(std::max(hp_.hidden, qDim_)));
  xb2_.resize(B * size_t(hp_.hidden));
  q_.resize(B * size_t(qDim_));
  k_.resize(B * size_t(kvDim_));
  v_.resize(B * size_t(kvDim_));
  hb_.resize(B * size_t(hp_.intermediate));
  hb2_.resize(B * size_t(hp_.intermediate));
  // cos/sin of every position's angles, once: RoPE is then two table reads.
  cos_.resize(size_t(ctx_) * size_t(half));
  sin_.resize(cos_.size());
  for (int64_t p = 0; p < ctx_; ++p)
    for (int64_t f = 0; f < half; ++f) {
      float a = float(p) * invFreq_[size_t(f)];
      cos_[size_t(p * half + f)] = std::cos(a);
      sin_[size_t(p * half + f)] = std::sin(a);
    }
  int64_t maxCols = std::max({hp_.hidden, qDim_, hp_.intermediate});
  maxCols_ = maxCols;
  gathered_.resize(size_t(kMaxWeights) * B * size_t(maxCols));
  // Attention scores of a group of query heads, or a row of a weight.
  int64_t group = hp_.n_heads / std::max<int64_t>(1, hp_.n_kv_heads);
  scratch_.assign(size_t(pool.size()), std::vector<float>(size_t(std::max<int64_t>(maxCols, group * ctx_))));
  normed_.assign(size_t(pool.size()), std::vector<float>(B * size_t(hp_.hidden)));
  acts_.resize(size_t(pool.size()));
  allocateCache();
}

std::pair<size_t, size_t> Forward::cacheBytes(const HyperParams &hp, int64_t ctx, int slots, kernels::KvType kv) {
  const size_t heads = size_t(slots) * size_t(hp.n_layers) * size_t(hp.n_kv_heads);
  const size_t blocks = size_t((ctx + kernels::kKeyBlock - 1) / kernels::kKeyBlock);
  return {heads * blocks * size_t(kernels::keyBlockBytes(kv, hp.head_dim)),
          heads * blocks * size_t(kernels::kKeyBlock * kernels::valueRowBytes(kv, hp.head_dim))};
}

void Forward::allocateCache() {
  auto [keys, values] = cacheBytes(hp_, ctx_, slots_, kv_);
  keyCache_ = OwnedBytes(keys, "the key cache");
  valueCache_ = OwnedBytes(values, "the value cache");
}

void Forward::setKvType(kernels::KvType t) {
  if (t == kv_)
    return;
  kv_ = t;
  allocateCache();
}

void Forward::linear(const Weight &w, const float *x, float *y, int n, bool secondPass) {
  const Weight *ws[] = {&w};
  float *ys[] = {y};
  linear(ws, x, ys, n, secondPass);
}

void Forward::linear(std::span<const Weight *const> ws, const float *x, std::span<float *const> ys, int n,
                     bool secondPass) {
  matmul(ws, x, ys, n, nullptr, secondPass);
  addBiases(ws, ys, n);
}

void Forward::addBiases(std::span<const Weight *const> ws, std::span<float *const> ys, int n) {
  for (size_t k = 0; k < ws.size(); ++k)
    if (auto it = biases_.find(ws[k]); it != biases_.end())
      for (int i = 0; i < n; ++i)
        for (size_t e = 0; e < it->second.size(); ++e)
          ys[k][size_t(i) * it->second.size() + e] += it->second[e];
}

// The rows of all the weights are dealt out as one range, so the threads
// meet once for the lot (by rows_: whole panels, format/Panel.h).
void Forward::matmul(std::span<const Weight *const> ws, const float *x, std::span<float *const> ys, int n,
                     const float *residual, bool secondPass) {
  const float *xs[kMaxWeights];
  gatherColumns(ws, x, n, xs);
  int64_t total = 0;
  for (const Weight *w : ws)
    total += w->rows();
  rows_.reset(total, pool_.size(), kProductChunk);
  pool_.run([&](int t, int) {
    // One quantization of x for the weights that read it as it is.
    const kernels::QuantizedRows *prepared = nullptr;
    rows_.run(t, [&](int64_t lo, int64_t hi) {
      int64_t base = 0;
      for (size_t i = 0; i < ws.size(); base += ws[i]->rows(), ++i) {
        int64_t N = ws[i]->rows(), r0 = std::max<int64_t>(lo - base, 0), r1 = std::min<int64_t>(hi - base, N);
        if (r0 >= r1)
          continue;
        if (!prepared && xs[i] == x)
          prepared = prepareActs(*ws[i], x, n, t, secondPass);
        matmulShare(*ws[i], xs[i], ys[i], n, r0, r1, residual, scratch_[size_t(t)].data(),
                    xs[i] == x ? prepared : nullptr);
      }
    });
  });
}

const kernels::QuantizedRows *Forward::prepareActs(const Weight &w, const float *x, int n, int t, bool secondPass) {
  if (!kt_.panel_prepare || !w.quant.panels || precision_ != kernels::Precision::Int8 || w.cols() % 32 != 0 ||
      !kernels::panelRun(kt_, w.quant.format, secondPass))
    return nullptr;
  kt_.panel_prepare(x, w.cols(), n, secondPass, acts_[size_t(t)]);
  return &acts_[size_t(t)];
}

void Forward::gatherColumns(std::span<const Weight *const> ws, const float *x, int n, const float **xs) {
  for (size_t i = 0; i < ws.size(); ++i) {
    const Weight &w = *ws[i];
    int64_t K = w.cols();
    xs[i] = x;
    if (w.perm) {
      float *g = gathered_.data() + i * size_t(kMaxBatch) * size_t(maxCols_);
      const uint8_t *perm = w.perm->data;
      for (int r = 0; r < n; ++r)
        for (int64_t j = 0; j < K; ++j)
          g[size_t(r * K + j)] = x[r * K + loadU32(perm + 4 * j)];
      xs[i] = g;
    }
  }
}

const float *Forward::normRows(const std::vector<float> &w, int n, float *out) const {
  kt_.rms_norm(x_.data(), w.data(), out, n, hp_.hidden, hp_.rms_eps);
  return out;
}

void Forward::storeKey(int slot, int layer, int64_t kvHead, int pos, const float *k) {
  const int64_t hd = hp_.head_dim, block = pos / kernels::kKeyBlock, lane = pos % kernels::kKeyBlock;
  uint8_t *blk = keyCache(slot, layer, kvHead) + block * kernels::keyBlockBytes(kv_, hd);
  if (kv_ == kernels::KvType::I8) {
    // Turned (rotateKv), then a column of the block's keys and of its scales.
    thread_local std::vector<float> turned;
    turned.assign(k, k + hd);
    kernels::rotateKv(turned.data(), hd);
    kernels::quantizeKv(turned.data(), hd, reinterpret_cast<int8_t *>(blk) + lane, kernels::kKeyBlock,
                        blk + kernels::kKeyBlock * hd + 4 * lane, kernels::kKeyBlock);
    return;
  }
  thread_local std::vector<uint16_t> column;
  column.resize(size_t(hd));
  kt_.to_f16(k, column.data(), hd);
  uint16_t *to = reinterpret_cast<uint16_t *>(blk) + lane;
  for (int64_t e = 0; e < hd; ++e)
    to[e * kernels::kKeyBlock] = column[size_t(e)];
}

void Forward::storeValue(int slot, int layer, int64_t kvHead, int pos, const float *v) {
  const int64_t hd = hp_.head_dim;
  uint8_t *row = valueCache(slot, layer, kvHead) + int64_t(pos) * kernels::valueRowBytes(kv_, hd);
  if (kv_ == kernels::KvType::I8) {
    kernels::quantizeKv(v, hd, reinterpret_cast<int8_t *>(row), 1, row + hd, 1);
    return;
  }
  // F16C where the table has it: the scalar rounding cost a 4-row SmolLM2
  // step's Q/K/V pass, when it stored, about 2 of its 22-27 us per layer.
  kt_.to_f16(v, reinterpret_cast<uint16_t *>(row), hd);
}

void Forward::qkvRopeStore(const Layer &L, int layer, int n, const RowAt *at, bool store, bool secondPass) {
  const Weight *ws[] = {L.wq, L.wk, L.wv};
  float *ys[] = {q_.data(), k_.data(), v_.data()};
  const float *xs[3];
  // Act-order columns are gathered from the normalized rows once, first.
  const bool gather = L.wq->perm || L.wk->perm || L.wv->perm;
  if (gather)
    gatherColumns(ws, normRows(L.attn_norm, n, xb_.data()), n, xs);
  const int64_t hd = hp_.head_dim, half = hp_.rope_dim / 2, heads[] = {hp_.n_heads, hp_.n_kv_heads, hp_.n_kv_heads};
  const int64_t units = heads[0] + heads[1] + heads[2], cols[] = {qDim_, kvDim_, kvDim_};
  const bool interleaved = hp_.rope_style == RopeStyle::Interleaved;
  const float eps = hp_.rms_eps;
  pool_.run([&](int t, int nt) {
    // Whole heads per thread: heads [u0, u1) of q's, then k's, then v's,
    // cut where the costs before them are nearest t / nt of the whole. A K
    // or V head costs more than a query head: a product call of its own
    // (its activations quantized again), and with `store` the cache writes
    // (4-row SmolLM2 steps storing: cut at 7 of 15 heads, the thread with
    // the K/V heads was busy 0.51 ms a step and the other 0.36; at 9, with
    // 1.5 query heads a K/V head, 0.48 and 0.48. Not storing, cut at 9: 0.39
    // against 0.47 for the query heads, so 1.25).
    const int64_t kvCost = store ? 6 : 5;
    auto cost = [&](int64_t u) { return u <= heads[0] ? 4 * u : 4 * heads[0] + kvCost * (u - heads[0]); };
    auto cut = [&](int64_t i) {
      int64_t u = 0;
      while (u < units && (cost(u) + cost(u + 1)) * nt <= 2 * cost(units) * i) // head u's middle
        ++u;
      return u;
    };
    const int64_t u0 = cut(t), u1 = cut(t + 1);
    float *scratch = scratch_[size_t(t)].data();
    const float *in[3] = {xs[0], xs[1], xs[2]};
    const kernels::QuantizedRows *prepared = nullptr;
    if (!gather) {
      in[0] = in[1] = in[2] = normRows(L.attn_norm, n, normed_[size_t(t)].data());
      // One quantization for this thread's Q, K and V heads.
      if (u0 < u1)
        prepared = prepareActs(*ws[u0 < heads[0] ? 0 : u0 < heads[0] + heads[1] ? 1 : 2], in[0], n, t, secondPass);
    }
    // The lines of the key blocks this thread's heads write a column of,
    // asked for now: fetched while the products run, not when the column is
    // stored (a key is a column of its block, a few bytes on every line).
    const int64_t keyBytes = kernels::keyBlockBytes(kv_, hd);
    for (int64_t h = std::max<int64_t>(u0 - heads[0], 0); store && h < std::min(u1 - heads[0], heads[1]); ++h)
      for (int r = 0; r < n; ++r) {
        // The whole block: the column's lines are nearly all of it.
        const uint8_t *blk = keyCache(at[r].slot, layer, h) + at[r].pos / kernels::kKeyBlock * keyBytes;
        for (int64_t o = 0; o < keyBytes; o += 64)
          __builtin_prefetch(blk + o, 1, 3);
      }
    for (int64_t i = 0, first = 0; i < 3; first += heads[i], ++i) {
      const int64_t h0 = std::max<int64_t>(u0 - first, 0), h1 = std::min(u1 - first, heads[i]);
      if (h0 >= h1)
        continue;
      matmulShare(*ws[i], in[i], ys[i], n, h0 * hd, h1 * hd, nullptr, scratch, prepared);
      if (auto b = biases_.find(ws[i]); b != biases_.end())
        for (int r = 0; r < n; ++r)
          for (int64_t e = h0 * hd; e < h1 * hd; ++e)
            ys[i][r * cols[i] + e] += b->second[size_t(e)];
      for (int r = 0; r < n; ++r)
        for (int64_t h = h0; h < h1; ++h) {
          float *y = ys[i] + r * cols[i] + h * hd;
          size_t pos = size_t(at[r].pos);
          if (i < 2) {
            const std::vector<float> &norm = i == 0 ? L.q_norm : L.k_norm;
            if (!norm.empty())
              kt_.rms_norm(y, norm.data(), y, 1, hd, eps);
            ropeHead(y, &cos_[pos * size_t(half)], &sin_[pos * size_t(half)], half, interleaved);
          }
          if (store && i == 2)
            storeValue(at[r].slot, layer, h, at[r].pos, y);
          else if (store && i == 1)
            storeKey(at[r].slot, layer, h, at[r].pos, y);
        }
    }
  });
}

void Forward::matmulShare(const Weight &w, const float *x, float *y, int n, int64_t r0, int64_t r1,
                          const float *residual, float *scratch, const kernels::QuantizedRows *prepared) const {
  // Nothing to compute: return before a kernel quantizes x for no rows (the
  // generated code calls every weight of a merged product on every thread,
  // most with an empty share of some).
  if (r0 >= r1)
    return;
  int64_t N = w.rows(), K = w.cols();
  // Prepared rows exist only at Int8 precision (prepareActs); they may have
  // been prepared for another weight of the pass, so this one's layout decides.
  kernels::PanelRun run = prepared && w.quant.panels && prepared->K == K && prepared->T == n
                              ? kernels::panelRun(kt_, w.quant.format, prepared->residual)
                              : nullptr;
  kernels::BlockMatMul exact = w.quant.panels && precision_ == kernels::Precision::Exact
                                   ? kernels::blockKernel(kt_, w.quant.format, K, n)
                                   : nullptr;
  if (run) {
    run(w.data.data, *prepared, y, N, r0, r1);
  } else if (exact) {
    // The f32 kernels on panel weights: each panel back in rows first (a
    // fraction of the f32 kernel's own work).
    thread_local std::vector<uint8_t> rows;
    rows.resize(panelBytes(w.quant.format, kPanelRows, K));
    for (int64_t p = r0 / kPanelRows; p * kPanelRows < r1; ++p) {
      int64_t base = p * kPanelRows;
      unpanel(w.quant.format, w.data.data, K, p, rows.data());
      exact(rows.data(), x, y + base, K, n, N, std::max(r0, base) - base, std::min(r1, base + kPanelRows) - base);
    }
  } else if (kernels::BlockMatMul f = kernels::blockKernel(kt_, w.quant.format, K, n, precision_, w.quant.panels)) {
    f(w.data.data, x, y, K, n, N, r0, r1);
  } else {
    // No block kernel for this layout or width: the exact dequantization of
    // one row at a time.
    for (int64_t r = r0; r < r1; ++r) {
      dequantizeRow(w, r, scratch);
      for (int i = 0; i < n; ++i)
        y[i * N + r] = kt_.dot(scratch, x + i * K, K);
    }
  }
  if (residual)
    for (int r = 0; r < n; ++r)
      for (int64_t e = r0; e < r1; ++e)
        y[r * N + e] += residual[r * N + e];
}

void Forward::gateUpSwiglu(const Layer &L, float *h, int n, bool secondPass) {
  const Weight &gate = *L.w_gate, &up = *L.w_up;
  int64_t ff = gate.rows();
  if (gate.perm || up.perm || biases_.count(&gate) || biases_.count(&up)) {
    // Gathered columns or biases: the general path, SwiGLU after it.
    const Weight *ws[] = {&gate, &up};
    float *ys[] = {h, hb2_.data()};
    linear(ws, normRows(L.ffn_norm, n, xb_.data()), ys, n, secondPass);
    kt_.swiglu(h, hb2_.data(), h, n * ff);
    return;
  }
  rows_.reset(ff, pool_.size(), kProductChunk);
  pool_.run([&](int t, int) {
    const float *x = normRows(L.ffn_norm, n, normed_[size_t(t)].data());
    float *scratch = scratch_[size_t(t)].data();
    // One quantization of x for both.
    const kernels::QuantizedRows *prepared = prepareActs(gate, x, n, t, secondPass);
    rows_.run(t, [&](int64_t r0, int64_t r1) {
      matmulShare(gate, x, h, n, r0, r1, nullptr, scratch, prepared);
      matmulShare(up, x, hb2_.data(), n, r0, r1, nullptr, scratch, prepared);
      for (int i = 0; i < n; ++i)
        kt_.swiglu(h + i * ff + r0, hb2_.data() + i * ff + r0, h + i * ff + r0, r1 - r0);
    });
  });
}

void Forward::addLinear(const Weight &w, const float *a, int n, bool secondPass) {
  // xb2 = a · wᵀ + x (+ the bias), then xb2 becomes x.
  const Weight *ws[] = {&w};
  float *ys[] = {xb2_.data()};
  matmul(ws, a, ys, n, x_.data(), secondPass);
  addBiases(ws, ys, n);
  std::swap(x_, xb2_);
}

const std::vector<float> &Forward::smallVector(const Weight &w) {
  // Generated regions ask from every thread at once.
  std::lock_guard<std::mutex> lock(smallMutex_);
  auto it = small_.find(&w);
  if (it == small_.end()) {
    std::vector<float> v(size_t(w.elements()));
    dequantizeRow(w, 0, v.data());
    it = small_.emplace(&w, std::move(v)).first;
  }
  return it->second;
}

std::vector<Forward::RowAt> Forward::rowsOf(int n, int pos) const {
  std::vector<RowAt> at(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    at[size_t(i)] = {slot_, pos + i};
  return at;
}

// Causal attention of n queries (positions pos..pos+n-1) over the current
// slot's cache.
void Forward::attend(int layer, int n, int pos, const float *q, float *out, int64_t heads, int64_t kvHeads,
                     int64_t hd, int64_t window) {
  attendRows(layer, n, rowsOf(n, pos).data(), q, out, heads, kvHeads, hd, window);
}

// One job per (row, K/V head) pair and part of its positions: the pair's
// query heads go together, so each cached key and value is widened once for
// the group. Too few pairs to keep every thread busy (one sequence
// decoding): long spans are split in parts, put back together by the parts'
// log-sum-exps. Each thread takes its own share of the jobs one at a time
// (rows_: consecutive jobs read neighbouring cache, a stream the hardware's
// prefetcher carries on; 4-row SmolLM2 steps, 3 turns: attention 0.70-0.72
// ms a step -> 0.65-0.69 against jobs dealt in turn), then the rest of the
// others': rows differ in length (a prompt's later rows see more positions;
// a batch's rows are other sequences), so equal shares of jobs are not
// equal shares of work.
void Forward::attendRows(int layer, int n, const RowAt *at, const float *q, float *out, int64_t heads,
                         int64_t kvHeads, int64_t hd, int64_t window, const float *kNew, const float *vNew) {
  int64_t group = heads / kvHeads, qDim = heads * hd;
  float scale = 1.0f / std::sqrt(float(hd));
  auto span = [&](int64_t i) {
    int last = at[i].pos;
    int first = window > 0 ? std::max(0, last - int(window) + 1) : 0;
    return std::pair<int64_t, int64_t>{first, last + 1};
  };
  int64_t pairs = int64_t(n) * kvHeads, longest = 0, threads = pool_.size();
  for (int64_t i = 0; i < n; ++i)
    longest = std::max(longest, span(i).second - span(i).first);
  int64_t parts = 1;
  if (pairs < 4 * threads)
    parts = std::max<int64_t>(1, std::min((4 * threads + pairs - 1) / pairs, longest / kMinAttentionPart));
  if (parts > 1) {
    partOut_.resize(size_t(pairs * parts * group * hd));
    partLse_.resize(size_t(pairs * parts * group));
  }
  int64_t jobs = pairs * parts;
  rows_.reset(jobs, pool_.size(), 1, 1);
  // Where job j reads: its row, K/V head, positions, first key block and
  // the bytes of its key blocks; `last`: its part holds the row's newest
  // position (the last part always does).
  struct Job {
    int64_t i, kvh, p0, p1, k0, keyBytes;
    const uint8_t *k;
    bool last;
  };
  const int64_t blockBytes = kernels::keyBlockBytes(kv_, hd), rowBytes = kernels::valueRowBytes(kv_, hd);
  auto job = [&](int64_t j) {
    int64_t pair = j / parts, c = j % parts, i = pair / kvHeads, kvh = pair % kvHeads;
    auto [first, end] = span(i);
    int64_t p0 = first + (end - first) * c / parts, p1 = first + (end - first) * (c + 1) / parts;
    int64_t k0 = p0 % kernels::kKeyBlock;
    int64_t blocks = (k0 + p1 - p0 + kernels::kKeyBlock - 1) / kernels::kKeyBlock;
    return Job{i,     kvh, p0, p1, k0, blocks * blockBytes,
               keyCache(at[i].slot, layer, kvh) + (p0 - k0) / kernels::kKeyBlock * blockBytes, c + 1 == parts};
  };
  pool_.run([&](int t, int) {
    float *att = scratch_[size_t(t)].data();
    thread_local std::vector<float> turned;
    // Each thread claims its next job before it runs the current one, so
    // the kernel can fetch that job's first keys while it sums this one's
    // values (KernelTable::attend).
    int k = 0;
    std::pair<int64_t, int64_t> r;
    int64_t j = rows_.next(t, k, r) ? r.first : jobs;
    for (Job w = j < jobs ? job(j) : Job{}; j < jobs;) {
      const int64_t jn = rows_.next(t, k, r) ? r.first : jobs;
      const Job a = jn < jobs ? job(jn) : Job{};
      const void *ahead = jn < jobs ? a.k : nullptr;
      const int64_t aheadBytes = std::min(kAttentionAhead, a.keyBytes);
      if (kNew && w.last) {
        storeValue(at[w.i].slot, layer, w.kvh, at[w.i].pos, vNew + w.i * kvDim_ + w.kvh * hd);
        storeKey(at[w.i].slot, layer, w.kvh, at[w.i].pos, kNew + w.i * kvDim_ + w.kvh * hd);
      }
      const float *qi = q + w.i * qDim + w.kvh * group * hd;
      if (kv_ == kernels::KvType::I8) {
        // The keys are kept turned (rotateKv): the queries turn the same way.
        turned.assign(qi, qi + group * hd);
        for (int64_t g = 0; g < group; ++g)
          kernels::rotateKv(turned.data() + g * hd, hd);
        qi = turned.data();
      }
      const uint8_t *vc = valueCache(at[w.i].slot, layer, w.kvh) + w.p0 * rowBytes;
      auto attend = [&](float *o, float *lse) {
        if (kv_ == kernels::KvType::I8)
          kt_.attend_i8(qi, group, reinterpret_cast<const int8_t *>(w.k), w.k0, reinterpret_cast<const int8_t *>(vc),
                        rowBytes, w.p1 - w.p0, hd, scale, att, o, lse, ahead, aheadBytes);
        else
          kt_.attend(qi, group, reinterpret_cast<const uint16_t *>(w.k), w.k0, reinterpret_cast<const uint16_t *>(vc),
                     hd, w.p1 - w.p0, hd, scale, att, o, lse, ahead, aheadBytes);
      };
      if (parts == 1)
        attend(out + w.i * qDim + w.kvh * group * hd, nullptr);
      else if (w.p1 > w.p0)
        attend(&partOut_[size_t(j * group * hd)], &partLse_[size_t(j * group)]);
      else
        std::fill_n(&partLse_[size_t(j * group)], group, -INFINITY);
      j = jn;
      w = a;
    }
  });
  if (parts == 1)
    return;
  // out = sum_c e^(lse_c - L) out_c / sum_c e^(lse_c - L), L the largest.
  for (int64_t pair = 0; pair < pairs; ++pair)
    for (int64_t g = 0; g < group; ++g) {
      const float *lse = &partLse_[size_t(pair * parts * group + g)];
      float L = -INFINITY, total = 0;
      for (int64_t c = 0; c < parts; ++c)
        L = std::max(L, lse[c * group]);
      float *o = out + (pair / kvHeads) * qDim + ((pair % kvHeads) * group + g) * hd;
      std::fill_n(o, hd, 0.0f);
      for (int64_t c = 0; c < parts; ++c) {
        if (lse[c * group] == -INFINITY)
          continue;
        float w = std::exp(lse[c * group] - L);
        total += w;
        const float *oc = &partOut_[size_t(((pair * parts + c) * group + g) * hd)];
        for (int64_t e = 0; e < hd; ++e)
          o[e] += w * oc[e];
      }
      for (int64_t e = 0; e < hd; ++e)
        o[e] /= total;
    }
}

void Forward::refineLogits(float *logits, int nOut) {
  const Weight &w = *output_;
  const int64_t V = w.rows(), K = w.cols();
  // Gathered columns or a bias would need their own handling here; the
  // projection's int8 path is otherwise prepareActs' to decide.
  if (w.perm || biases_.count(&w))
    return;
  const kernels::PanelRun run = kernels::panelRun(kt_, w.quant.format, true);
  pool_.run([&](int t, int nt) {
    for (int o = t; o < nOut; o += nt) {
      const kernels::QuantizedRows *a = prepareActs(w, xb_.data() + int64_t(o) * K, 1, t, true);
      if (!a)
        return;
      float *lg = logits + int64_t(o) * V;
      const float mx = lg[argmax(lg, int32_t(V))];
      // The panels (16 rows each) holding a logit that can matter, each
      // computed again whole, in order.
      const float floor = mx - kRefineNats;
      // Found a panel at a time (its 16 logits' largest, a loop the
      // compiler vectorizes), not by a branch on each of the vocabulary's
      // logits: a 4-row SmolLM2 step's refinement, 3 turns, 0.13-0.15 ms
      // -> 0.12-0.13.
      thread_local std::vector<int64_t> panels;
      panels.clear();
      for (int64_t p0 = 0; p0 < V; p0 += kPanelRows) {
        // From -inf, so that a NaN logit counts for nothing (as the
        // per-logit test it replaced), whichever lane it is in.
        float top = -INFINITY;
        for (int64_t i = p0; i < std::min(V, p0 + kPanelRows); ++i)
          top = lg[i] > top ? lg[i] : top;
        if (top >= floor)
          panels.push_back(p0);
      }
      // Each panel's lines asked for while the one before it is computed:
      // they lie apart, so the hardware's prefetcher starts each cold (a
      // 4-row SmolLM2 step's refinement, 3 turns: 0.13-0.19 ms -> 0.12-0.13;
      // two panels ahead, no better).
      const int64_t panelSize = int64_t(panelBytes(w.quant.format, kPanelRows, K));
      const char *data = reinterpret_cast<const char *>(w.data.data);
      for (size_t j = 0; j < panels.size(); ++j) {
        if (j + 1 < panels.size())
          for (int64_t line = 0; line < panelSize; line += 64)
            __builtin_prefetch(data + panels[j + 1] / kPanelRows * panelSize + line, 0, 2);
        run(w.data.data, *a, lg, V, panels[j], std::min(V, panels[j] + kPanelRows));
      }
    }
  });
}

void Forward::checkRun(const int32_t *tokens, int n, int pos) const {
  if (n <= 0)
    throw Error("forward: no tokens");
  if (pos < 0 || int64_t(pos) + n > ctx_)
    throw Error(cat("positions ", pos, "..", pos + n - 1, " are outside the context of ", ctx_, " tokens"));
  for (int i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= hp_.vocab)
      throw Error(cat("token id ", tokens[i], " is outside the vocabulary"));
}

const float *Forward::forward(const int32_t *tokens, int n, int pos, bool allLogits) {
  checkRun(tokens, n, pos);
  size_t V = size_t(hp_.vocab);
  logits_.resize(allLogits ? size_t(n) * V : V);
  for (int done = 0; done < n;) {
    int b = std::min(kMaxBatch, n - done);
    bool last = done + b == n;
    std::vector<int> out;
    for (int i = allLogits ? 0 : last ? b - 1 : b; i < b; ++i)
      out.push_back(i);
    batch(tokens + done, b, rowsOf(b, pos + done).data(), out.data(), int(out.size()),
          logits_.data() + (allLogits ? size_t(done) * V : 0));
    done += b;
  }
  return logits_.data();
}

const float *Forward::forwardRows(const int32_t *tokens, const int *slot, const int *pos, const uint8_t *want, int n) {
  if (n <= 0 || n > kMaxBatch)
    throw Error(cat("forward: ", n, " rows in one step (1..", kMaxBatch, ")"));
  std::vector<RowAt> at(static_cast<size_t>(n));
  std::vector<int> out;
  for (int i = 0; i < n; ++i) {
    if (slot[i] < 0 || slot[i] >= slots_)
      throw Error(cat("forward: slot ", slot[i], " of ", slots_));
    checkRun(tokens + i, 1, pos[i]);
    at[size_t(i)] = {slot[i], pos[i]};
    if (want[i])
      out.push_back(i);
  }
  logits_.resize(std::max<size_t>(out.size(), 1) * size_t(hp_.vocab));
  batch(tokens, n, at.data(), out.data(), int(out.size()), logits_.data());
  return logits_.data();
}

void Forward::batch(const int32_t *tokens, int n, const RowAt *at, const int *out, int nOut, float *logits) {
  int64_t dim = hp_.hidden, hd = hp_.head_dim;
  float eps = hp_.rms_eps;
  for (int i = 0; i < n; ++i)
    dequantizeRow(*embed_, tokens[i], x_.data() + i * dim);
  // Rows each in a sequence of its own (decoding, a server's step): their
  // keys and values are stored by the attention jobs that read them. Rows
  // of one sequence (a prompt) read each other's, so they are all stored
  // first, in the Q/K/V pass.
  // A row alone in its sequence is a generated token's (or a prompt's last,
  // whose logits give the first): generation, held to its bar
  // (takesSecondPass()) also in a step that admits a prompt beside it.
  bool ownSlots = true, generating = false;
  for (int i = 0; i < n; ++i) {
    bool alone = true;
    for (int j = 0; j < n && alone; ++j)
      alone = j == i || at[i].slot != at[j].slot;
    ownSlots = ownSlots && alone;
    generating = generating || alone;
  }
  const bool second = takesSecondPass(n, generating, false);

  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer &L = layers_[l];
    // Attention block.
    // Q, K and V (and below gate and up) in one pass of the threads, each
    // normalizing the rows itself.
    qkvRopeStore(L, int(l), n, at, !ownSlots, takesSecondPass(n, generating, true));
    attendRows(int(l), n, at, q_.data(), xb_.data(), hp_.n_heads, hp_.n_kv_heads, hd, hp_.sliding_window,
               ownSlots ? k_.data() : nullptr, ownSlots ? v_.data() : nullptr);
    addLinear(*L.wo, xb_.data(), n, second);

    // Feed-forward block: SwiGLU.
    gateUpSwiglu(L, hb_.data(), n, second);
    addLinear(*L.w_down, hb_.data(), n, second);
  }

  // Only the rows whose logits are wanted go through the output projection
  // (the widest matrix of the model).
  for (int o = 0; o < nOut; ++o)
    kt_.rms_norm(x_.data() + out[o] * dim, outNorm_.data(), xb_.data() + o * dim, 1, dim, eps);
  if (nOut > 0) {
    const bool secondOut = takesSecondPass(nOut, generating, false);
    linear(*output_, xb_.data(), logits, nOut, secondOut);
    if (generating && !secondOut)
      refineLogits(logits, nOut);
  }
}

} // namespace mcc
