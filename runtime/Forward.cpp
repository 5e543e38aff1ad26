#include "runtime/Forward.h"
#include "compiler/import/Dequant.h"
#include "compiler/import/Error.h"

#include <algorithm>
#include <cmath>

namespace mcc {

namespace {
const Weight *need(const ModelDesc &m, const std::string &name) {
  const Weight *w = m.find(name);
  if (!w)
    throw Error(cat(m.name, ": weight '", name, "' is missing"));
  return w;
}
} // namespace

Forward::Forward(const ModelDesc &m, int contextSize, ThreadPool &pool, bool int8Activations)
    : m_(m), hp_(m.hp), ctx_(contextSize), pool_(pool), dot_(kernels::bestTable()), int8_(int8Activations) {
  if (hp_.rope_scaling.kind == RopeScaling::Kind::Yarn || hp_.rope_scaling.kind == RopeScaling::Kind::Dynamic)
    throw Error(cat(m.name, ": rope scaling '", ropeScalingName(hp_.rope_scaling.kind),
                    "' is not supported by the runtime yet"));
  for (int64_t l = 0; l < hp_.n_layers; ++l) {
    std::string b = cat("blk.", l, ".");
    Layer L{};
    L.attn_norm = need(m, b + "attn_norm");
    L.wq = need(m, b + "attn_q");
    L.wk = need(m, b + "attn_k");
    L.wv = need(m, b + "attn_v");
    L.wo = need(m, b + "attn_output");
    if (hp_.qkv_bias) {
      L.bq = need(m, b + "attn_q.bias");
      L.bk = need(m, b + "attn_k.bias");
      L.bv = need(m, b + "attn_v.bias");
    }
    if (hp_.qk_norm) {
      L.q_norm = need(m, b + "attn_q_norm");
      L.k_norm = need(m, b + "attn_k_norm");
    }
    L.ffn_norm = need(m, b + "ffn_norm");
    L.w_gate = need(m, b + "ffn_gate");
    L.w_up = need(m, b + "ffn_up");
    L.w_down = need(m, b + "ffn_down");
    layers_.push_back(L);
  }
  embed_ = need(m, "token_embd");
  outNorm_ = need(m, "output_norm");
  output_ = hp_.tie_embeddings ? embed_ : need(m, "output");
  ropeFreqs_ = m.find("rope_freqs");

  // RoPE frequencies, with the context-extension rules folded in once.
  int64_t half = hp_.rope_dim / 2;
  std::vector<float> factors(size_t(half), 1.0f);
  if (ropeFreqs_)
    dequantizeRow(*ropeFreqs_, 0, factors.data());
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

  int64_t qDim = hp_.n_heads * hp_.head_dim, kvDim = hp_.n_kv_heads * hp_.head_dim;
  int64_t maxDim = std::max({hp_.hidden, qDim, hp_.intermediate});
  x_.resize(size_t(hp_.hidden));
  xb_.resize(size_t(maxDim));
  xb2_.resize(size_t(maxDim));
  q_.resize(size_t(qDim));
  k_.resize(size_t(kvDim));
  v_.resize(size_t(kvDim));
  hb_.resize(size_t(hp_.intermediate));
  hb2_.resize(size_t(hp_.intermediate));
  att_.resize(size_t(hp_.n_heads) * size_t(ctx_));
  logits_.resize(size_t(hp_.vocab));
  vecTmp_.resize(size_t(maxDim));
  xq_.resize(size_t((maxDim + 31) / 32));
  xsum_.resize(xq_.size());
  scratch_.assign(size_t(pool.size()), std::vector<float>(size_t(std::max(maxDim, hp_.vocab))));
  keyCache_.assign(size_t(hp_.n_layers) * size_t(ctx_) * size_t(kvDim), 0.0f);
  valueCache_.assign(keyCache_.size(), 0.0f);
}

// y = W x, rows split evenly over the threads. The activation is prepared
// (block sums, or int8 blocks) once; `prepared` says the previous matvec on
// the same x already did it.
void Forward::matvec(const Weight &w, const float *x, float *y, bool prepared) {
  int64_t K = w.cols(), N = w.rows();
  if (!prepared && kernels::pathFor(w) != kernels::Path::None) {
    if (int8_)
      dot_.quantize(x, xq_.data(), K);
    else
      kernels::blockSums(x, xsum_.data(), K);
  }
  kernels::Activation a{x, xsum_.data(), int8_ ? xq_.data() : nullptr};
  pool_.run([&](int t, int nt) {
    int64_t r0 = N * t / nt, r1 = N * (t + 1) / nt;
    kernels::matvecRows(dot_, w, a, y, r0, r1, scratch_[size_t(t)].data());
  });
}

void Forward::rmsnorm(float *out, const float *x, const Weight &w, int64_t n) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i)
    ss += double(x[i]) * x[i];
  float scale = float(1.0 / std::sqrt(ss / double(n) + hp_.rms_eps));
  dequantizeRow(w, 0, vecTmp_.data());
  for (int64_t i = 0; i < n; ++i)
    out[i] = x[i] * scale * vecTmp_[size_t(i)];
}

// Rotates one head vector. Neox pairs (i, i + d/2); interleaved pairs (2i, 2i + 1).
void Forward::rope(float *v, int pos) {
  int64_t half = hp_.rope_dim / 2;
  bool inter = hp_.rope_style == RopeStyle::Interleaved;
  for (int64_t i = 0; i < half; ++i) {
    float a = float(pos) * invFreq_[size_t(i)];
    float c = std::cos(a), s = std::sin(a);
    float *x0 = inter ? v + 2 * i : v + i;
    float *x1 = inter ? v + 2 * i + 1 : v + i + half;
    float u = *x0, w = *x1;
    *x0 = u * c - w * s;
    *x1 = u * s + w * c;
  }
}

void Forward::attention(int layer, int pos) {
  int64_t hd = hp_.head_dim, kvDim = hp_.n_kv_heads * hd, group = hp_.n_heads / hp_.n_kv_heads;
  const float *kc = keyCache_.data() + size_t(layer) * size_t(ctx_) * size_t(kvDim);
  const float *vc = valueCache_.data() + size_t(layer) * size_t(ctx_) * size_t(kvDim);
  int first = hp_.sliding_window > 0 ? std::max(0, pos - int(hp_.sliding_window) + 1) : 0;
  float scale = 1.0f / std::sqrt(float(hd));
  pool_.run([&](int t, int nt) {
    for (int64_t h = hp_.n_heads * t / nt; h < hp_.n_heads * (t + 1) / nt; ++h) {
      const float *q = q_.data() + h * hd;
      float *att = att_.data() + h * ctx_;
      int64_t kvh = h / group;
      float mx = -INFINITY;
      for (int p = first; p <= pos; ++p) {
        float s = dot_.dotF32(q, kc + size_t(p) * size_t(kvDim) + size_t(kvh * hd), hd) * scale;
        att[p] = s;
        mx = std::max(mx, s);
      }
      float sum = 0;
      for (int p = first; p <= pos; ++p) {
        att[p] = std::exp(att[p] - mx);
        sum += att[p];
      }
      float *out = xb_.data() + h * hd;
      std::fill(out, out + hd, 0.0f);
      for (int p = first; p <= pos; ++p) {
        float a = att[p] / sum;
        const float *v = vc + size_t(p) * size_t(kvDim) + size_t(kvh * hd);
        for (int64_t i = 0; i < hd; ++i)
          out[i] += a * v[i];
      }
    }
  });
}

const float *Forward::step(int32_t token, int pos) {
  if (pos < 0 || pos >= ctx_)
    throw Error(cat("position ", pos, " is outside the context of ", ctx_, " tokens"));
  if (token < 0 || token >= hp_.vocab)
    throw Error(cat("token id ", token, " is outside the vocabulary"));
  int64_t dim = hp_.hidden, hd = hp_.head_dim;
  int64_t qDim = hp_.n_heads * hd, kvDim = hp_.n_kv_heads * hd;
  dequantizeRow(*embed_, token, x_.data());

  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer &L = layers_[l];
    // Attention block.
    rmsnorm(xb_.data(), x_.data(), *L.attn_norm, dim);
    matvec(*L.wq, xb_.data(), q_.data());
    matvec(*L.wk, xb_.data(), k_.data(), kernels::pathFor(*L.wq) == kernels::pathFor(*L.wk));
    matvec(*L.wv, xb_.data(), v_.data(), kernels::pathFor(*L.wq) == kernels::pathFor(*L.wv));
    if (L.bq) {
      for (auto [b, out, n] : {std::tuple{L.bq, q_.data(), qDim}, {L.bk, k_.data(), kvDim}, {L.bv, v_.data(), kvDim}}) {
        dequantizeRow(*b, 0, vecTmp_.data());
        for (int64_t i = 0; i < n; ++i)
          out[i] += vecTmp_[size_t(i)];
      }
    }
    if (L.q_norm) {
      for (int64_t h = 0; h < hp_.n_heads; ++h)
        rmsnorm(q_.data() + h * hd, q_.data() + h * hd, *L.q_norm, hd);
      for (int64_t h = 0; h < hp_.n_kv_heads; ++h)
        rmsnorm(k_.data() + h * hd, k_.data() + h * hd, *L.k_norm, hd);
    }
    for (int64_t h = 0; h < hp_.n_heads; ++h)
      rope(q_.data() + h * hd, pos);
    for (int64_t h = 0; h < hp_.n_kv_heads; ++h)
      rope(k_.data() + h * hd, pos);
    size_t at = (l * size_t(ctx_) + size_t(pos)) * size_t(kvDim);
    std::copy(k_.begin(), k_.end(), keyCache_.begin() + long(at));
    std::copy(v_.begin(), v_.end(), valueCache_.begin() + long(at));
    attention(int(l), pos);
    matvec(*L.wo, xb_.data(), xb2_.data());
    for (int64_t i = 0; i < dim; ++i)
      x_[size_t(i)] += xb2_[size_t(i)];

    // Feed-forward block: SwiGLU.
    rmsnorm(xb_.data(), x_.data(), *L.ffn_norm, dim);
    matvec(*L.w_gate, xb_.data(), hb_.data());
    matvec(*L.w_up, xb_.data(), hb2_.data(), kernels::pathFor(*L.w_gate) == kernels::pathFor(*L.w_up));
    for (int64_t i = 0; i < hp_.intermediate; ++i) {
      float g = hb_[size_t(i)];
      hb_[size_t(i)] = g / (1.0f + std::exp(-g)) * hb2_[size_t(i)];
    }
    matvec(*L.w_down, hb_.data(), xb_.data());
    for (int64_t i = 0; i < dim; ++i)
      x_[size_t(i)] += xb_[size_t(i)];
  }

  rmsnorm(x_.data(), x_.data(), *outNorm_, dim);
  matvec(*output_, x_.data(), logits_.data());
  return logits_.data();
}

} // namespace mcc
