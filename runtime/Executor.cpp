#include "runtime/Executor.h"
#include "compiler/import/Dequant.h"
#include "compiler/import/Error.h"
#include "compiler/import/Half.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sys/mman.h>

struct McExec {
  mcc::Forward *fwd;
};

namespace mcc {

namespace {

float fromBits(uint32_t b) { return bitsToFloat(b); }
const Weight &weightAt(McExec *x, int32_t i) { return x->fwd->model().weights[size_t(i)]; }

// The McApi functions: C entry points over Forward's operations. None may
// throw (generated frames have no unwind tables); the generated code only
// passes what the compiler verified.
void apiEmbedding(McExec *x, int32_t w, const int32_t *tokens, int64_t rows, int64_t cols, float *out) {
  for (int64_t i = 0; i < rows; ++i)
    dequantizeRow(weightAt(x, w), tokens[i], out + i * cols);
}

void apiRmsNorm(McExec *x, int32_t w, uint32_t eps, int64_t group, int64_t rows, int64_t cols, const float *in,
                float *out) {
  rmsNormRows(in, out, x->fwd->smallVector(weightAt(x, w)).data(), rows, cols, group, fromBits(eps));
}

// The prologue runs once into a scratch row block, then every weight reads it.
void apiQMatmul(McExec *x, int32_t prologue, int64_t rows, int64_t cols, const float *in0, const float *in1,
                int32_t norm, uint32_t eps, const float *residual, int32_t nWeights, int32_t w0, int32_t w1, int32_t w2,
                float *out0, float *out1, float *out2) {
  thread_local std::vector<float> prepared;
  const float *in = in0;
  if (prologue != MC_PROLOGUE_NONE) {
    // The prologue's rows are spread over the threads too: at prompt sizes
    // SwiGLU's exponentials alone are a sizeable serial stretch otherwise.
    prepared.resize(size_t(rows * cols));
    const float *normW = prologue == MC_PROLOGUE_RMS_NORM ? x->fwd->smallVector(weightAt(x, norm)).data() : nullptr;
    float epsF = fromBits(eps);
    float *outP = prepared.data();
    x->fwd->pool().run([&](int t, int nt) {
      int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
      if (normW)
        rmsNormRows(in0 + r0 * cols, outP + r0 * cols, normW, r1 - r0, cols, cols, epsF);
      else
        swiglu(in0 + r0 * cols, in1 + r0 * cols, outP + r0 * cols, (r1 - r0) * cols);
    });
    in = prepared.data();
  }
  int32_t ids[] = {w0, w1, w2};
  const Weight *ws[Forward::kMaxWeights];
  float *outs[] = {out0, out1, out2};
  for (int32_t i = 0; i < nWeights; ++i)
    ws[i] = &weightAt(x, ids[i]);
  x->fwd->matmul(std::span(ws, size_t(nWeights)), in, std::span(outs, size_t(nWeights)), int(rows), residual);
}

void apiBiasAdd(McExec *x, int32_t w, int64_t rows, int64_t cols, const float *in, float *out) {
  const std::vector<float> &b = x->fwd->smallVector(weightAt(x, w));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t e = 0; e < cols; ++e)
      out[r * cols + e] = in[r * cols + e] + b[size_t(e)];
}

void apiRope(McExec *x, int32_t pos, int64_t rows, int64_t cols, int64_t headDim, int64_t, int32_t style,
             const float *in, float *out) {
  if (out != in)
    std::memcpy(out, in, size_t(rows * cols) * sizeof(float));
  x->fwd->rope(out, int(rows), pos, cols, headDim, style == MC_ROPE_INTERLEAVED);
}

void apiAttention(McExec *x, int32_t layer, int32_t pos, int64_t rows, int64_t heads, int64_t kvHeads,
                  int64_t headDim, int64_t window, int32_t rope, int64_t, const float *q, const float *k,
                  const float *v, float *out) {
  if (rope >= 0) {
    // Rotated on the way in: k into the cache, q into the scores.
    thread_local std::vector<float> rq, rk;
    rq.assign(q, q + rows * heads * headDim);
    rk.assign(k, k + rows * kvHeads * headDim);
    x->fwd->rope(rq.data(), int(rows), pos, heads * headDim, headDim, rope == MC_ROPE_INTERLEAVED);
    x->fwd->rope(rk.data(), int(rows), pos, kvHeads * headDim, headDim, rope == MC_ROPE_INTERLEAVED);
    q = rq.data();
    k = rk.data();
  }
  x->fwd->storeKV(layer, int(rows), pos, k, v);
  x->fwd->attend(layer, int(rows), pos, q, out, heads, kvHeads, headDim, window);
}

void apiSwiGlu(McExec *, int64_t n, const float *g, const float *u, float *out) { swiglu(g, u, out, n); }

void apiAdd(McExec *, int64_t n, const float *a, const float *b, float *out) {
  for (int64_t e = 0; e < n; ++e)
    out[e] = a[e] + b[e];
}

void apiLastRow(McExec *, int64_t rows, int64_t cols, const float *in, float *out) {
  std::memcpy(out, in + (rows - 1) * cols, size_t(cols) * sizeof(float));
}

const McApi kApi = {apiEmbedding, apiRmsNorm, apiQMatmul, apiBiasAdd, apiRope,
                    apiAttention, apiSwiGlu,  apiAdd,     apiLastRow};

bool tripleMatchesThisMachine(const std::string &triple) {
#if defined(__x86_64__)
  return triple.rfind("x86_64", 0) == 0;
#elif defined(__aarch64__)
  return triple.rfind("aarch64", 0) == 0;
#else
  return false;
#endif
}

} // namespace

Executor::Executor(Forward &fwd, const CodeView &code) : fwd_(fwd) {
  if (!tripleMatchesThisMachine(code.triple))
    throw Error(cat("the generated code is for ", code.triple, ", not this machine"));
  codeBytes_ = std::max<size_t>(code.bytes, 1);
  // Copied into its own pages, then made executable: never writable and
  // executable at once.
  void *p = ::mmap(nullptr, codeBytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    throw Error("cannot map the generated code");
  std::memcpy(p, code.text, code.bytes);
  if (::mprotect(p, codeBytes_, PROT_READ | PROT_EXEC) != 0) {
    ::munmap(p, codeBytes_);
    throw Error("cannot make the generated code executable");
  }
  code_ = p;
  for (const char *name : {"mcc_decode", "mcc_prefill64", "mcc_prefill16", "mcc_prefill4", "mcc_score"}) {
    auto it = code.entries.find(name);
    if (it == code.entries.end() || it->second >= code.bytes)
      throw Error(cat("the generated code has no entry point ", name));
    entries_[name] = reinterpret_cast<McEntry>(static_cast<uint8_t *>(code_) + it->second);
  }
  workspace_.resize(size_t(code.workspace_floats));
}

Executor::~Executor() {
  if (code_)
    ::munmap(code_, codeBytes_);
}

McEntry Executor::entry(const std::string &name) const { return entries_.at(name); }

// Generated code has no function-type signature before its entry points
// for UBSan's -fsanitize=function to read.
#if defined(__clang__)
__attribute__((no_sanitize("function")))
#endif
const float *Executor::call(McEntry e, const int32_t *tokens, int pos) {
  McExec x{&fwd_};
  return e(&kApi, &x, workspace_.data(), tokens, pos);
}

const float *Executor::forward(const int32_t *tokens, int n, int pos, bool allLogits) {
  const ModelDesc &m = fwd_.model();
  fwd_.checkRun(tokens, n, pos);
  size_t V = size_t(m.hp.vocab);
  if (allLogits) {
    logits_.resize(size_t(n) * V);
    int done = 0;
    for (; done + 64 <= n; done += 64)
      std::memcpy(&logits_[size_t(done) * V], call(entry("mcc_score"), tokens + done, pos + done),
                  64 * V * sizeof(float));
    for (; done < n; ++done)
      std::memcpy(&logits_[size_t(done) * V], call(entry("mcc_decode"), tokens + done, pos + done), V * sizeof(float));
    return logits_.data();
  }
  // The largest prefill entries first, decode for what is left.
  const float *last = nullptr;
  int done = 0;
  for (auto [name, size] : {std::pair{"mcc_prefill64", 64}, {"mcc_prefill16", 16}, {"mcc_prefill4", 4}, {"mcc_decode", 1}})
    for (; done + size <= n; done += size)
      last = call(entry(name), tokens + done, pos + done);
  logits_.assign(last, last + V);
  return logits_.data();
}

} // namespace mcc
