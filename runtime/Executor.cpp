#include "runtime/Executor.h"
#include "format/Dequant.h"
#include "format/Error.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <sys/mman.h>

// What one call of an entry point runs with: its regions run with the same
// workspace, tokens and position.
struct McExec {
  mcc::Forward *fwd;
  const McApi *api;
  const std::vector<McRegion> *regions;
  float *workspace;
  const int32_t *tokens;
  int32_t pos;
};

namespace mcc {

namespace {

const Weight &weightAt(McExec *x, int32_t i) { return x->fwd->model().weights[size_t(i)]; }

// The McApi functions: C entry points over Forward's operations. None may
// throw (generated frames have no unwind tables); the generated code only
// passes what the compiler verified.
void apiEmbedding(McExec *x, int32_t w, const int32_t *tokens, int64_t rows, int64_t cols, float *out) {
  for (int64_t i = 0; i < rows; ++i)
    dequantizeRow(weightAt(x, w), tokens[i], out + i * cols);
}

void apiMatmulRows(McExec *x, int32_t w, const float *in, float *out, int64_t rows, int64_t r0, int64_t r1,
                   const float *residual) {
  const Weight &wt = weightAt(x, w);
  thread_local std::vector<float> scratch;
  scratch.resize(size_t(wt.cols()));
  x->fwd->matmulShare(wt, in, out, int(rows), r0, r1, residual, scratch.data());
}

const int32_t *apiWeightPerm(McExec *x, int32_t w) {
  const Weight &wt = weightAt(x, w);
  return wt.perm ? reinterpret_cast<const int32_t *>(wt.perm->data) : nullptr;
}

void apiAttend(McExec *x, int32_t layer, int32_t pos, int64_t rows, int64_t heads, int64_t kvHeads, int64_t headDim,
               int64_t window, const float *q, float *out) {
  x->fwd->attend(layer, int(rows), pos, q, out, heads, kvHeads, headDim, window);
}

const float *apiSmallVector(McExec *x, int32_t w) { return x->fwd->smallVector(weightAt(x, w)).data(); }

// Generated code has no function-type signature before its functions for
// UBSan's -fsanitize=function to read.
#if defined(__clang__)
__attribute__((no_sanitize("function")))
#endif
void callRegion(McRegion r, McExec *x, int t, int nt) {
  r(x->api, x, x->workspace, x->tokens, x->pos, t, nt);
}

void apiParallel(McExec *x, int32_t region) {
  McRegion r = (*x->regions)[size_t(region)];
  x->fwd->pool().run([&](int t, int nt) { callRegion(r, x, t, nt); });
}

const float *apiRopeTable(McExec *x, int32_t sine) { return x->fwd->ropeTable(sine != 0); }
void apiStoreKv(McExec *x, int32_t layer, int32_t head, int32_t pos, const float *k, const float *v) {
  x->fwd->storeKeyValue(layer, head, pos, k, v);
}

const McApi kApi = {apiEmbedding,  apiMatmulRows, apiAttend,    apiSmallVector,
                    apiParallel,   apiWeightPerm, apiRopeTable, apiStoreKv};

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
  for (const abi::EntryPoint &e : abi::kEntryPoints) {
    std::string name = std::string(abi::kEntryPrefix) + e.name;
    auto it = code.entries.find(name);
    if (it == code.entries.end() || it->second >= code.bytes)
      throw Error(cat("the generated code has no entry point ", name));
    McEntry fn = reinterpret_cast<McEntry>(static_cast<uint8_t *>(code_) + it->second);
    if (e.all_logits)
      score_ = {fn, int(e.rows)};
    else
      batches_.push_back({fn, int(e.rows)});
  }
  // The largest batches first: a run of tokens takes as many as fit.
  std::sort(batches_.begin(), batches_.end(), [](const Batch &a, const Batch &b) { return a.rows > b.rows; });
  if (batches_.empty() || batches_.back().rows != 1 || !score_.fn)
    throw Error("the generated code's entry points do not cover single tokens and scoring");
  const size_t prefix = std::strlen(abi::kRegionPrefix);
  for (const auto &[name, offset] : code.entries) {
    if (name.rfind(abi::kRegionPrefix, 0) != 0)
      continue;
    size_t k = 0;
    const char *first = name.data() + prefix, *last = name.data() + name.size();
    auto [end, ec] = std::from_chars(first, last, k);
    if (ec != std::errc() || end != last || offset >= code.bytes || k > code.entries.size())
      throw Error(cat("the generated code's region ", name, " is out of place"));
    regions_.resize(std::max(regions_.size(), k + 1));
    regions_[k] = reinterpret_cast<McRegion>(static_cast<uint8_t *>(code_) + offset);
  }
  for (size_t k = 0; k < regions_.size(); ++k)
    if (!regions_[k])
      throw Error(cat("the generated code has no region ", k));
  workspace_ = OwnedBytes(size_t(code.workspace_floats) * sizeof(float), "the generated code's workspace");
}

Executor::~Executor() {
  if (code_)
    ::munmap(code_, codeBytes_);
}

// Generated code has no function-type signature before its entry points
// for UBSan's -fsanitize=function to read.
#if defined(__clang__)
__attribute__((no_sanitize("function")))
#endif
const float *Executor::call(McEntry e, const int32_t *tokens, int pos) {
  McExec x{&fwd_, &kApi, &regions_, reinterpret_cast<float *>(workspace_.data()), tokens, int32_t(pos)};
  return e(x.api, &x, x.workspace, tokens, pos);
}

const float *Executor::forward(const int32_t *tokens, int n, int pos, bool allLogits) {
  const ModelDesc &m = fwd_.model();
  fwd_.checkRun(tokens, n, pos);
  size_t V = size_t(m.hp.vocab);
  if (allLogits) {
    logits_.resize(size_t(n) * V);
    int done = 0;
    for (; done + score_.rows <= n; done += score_.rows)
      std::memcpy(&logits_[size_t(done) * V], call(score_.fn, tokens + done, pos + done),
                  size_t(score_.rows) * V * sizeof(float));
    for (; done < n; ++done)
      std::memcpy(&logits_[size_t(done) * V], call(batches_.back().fn, tokens + done, pos + done), V * sizeof(float));
    return logits_.data();
  }
  // The largest prefill entries first, decode for what is left.
  const float *last = nullptr;
  int done = 0;
  for (const Batch &b : batches_)
    for (; done + b.rows <= n; done += b.rows)
      last = call(b.fn, tokens + done, pos + done);
  logits_.assign(last, last + V);
  return logits_.data();
}

} // namespace mcc
