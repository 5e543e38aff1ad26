#include "runtime/cli/Session.h"
#include "format/Error.h"
#include "runtime/chat/ChatTemplate.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sys/sysinfo.h>

namespace mcc {

namespace {

// MemAvailable (what can be had without swapping), else free + buffers.
uint64_t availableMemory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib;
  std::string unit;
  while (in >> key >> kib >> unit)
    if (key == "MemAvailable:")
      return kib << 10;
  struct sysinfo si;
  if (::sysinfo(&si) == 0)
    return (uint64_t(si.freeram) + si.bufferram) * si.mem_unit;
  return UINT64_MAX;
}

std::string gib(uint64_t b) {
  char s[32];
  std::snprintf(s, sizeof s, "%.1f", double(b) / double(uint64_t(1) << 30));
  return s;
}

const LoadedModel &checkContext(const LoadedModel &lm, int ctx, kernels::KvType kv) {
  checkKvFits(lm.desc.hp, ctx, 1, kv);
  return lm;
}

} // namespace

void checkKvFits(const HyperParams &hp, int64_t ctx, int sequences, kernels::KvType kv) {
  uint64_t need = kvCacheBytes(hp, ctx, kv) * uint64_t(sequences), have = availableMemory();
  if (need > have)
    throw Error(sequences == 1
                    ? cat("-c ", ctx, ": the KV cache for ", ctx, " tokens needs ", gib(need), " GiB, and ",
                          gib(have), " GiB of memory is available; use a smaller -c")
                    : cat("-c ", ctx, " with --parallel ", sequences, ": the KV caches need ", gib(need), " GiB, and ",
                          gib(have), " GiB of memory is available; use a smaller -c or fewer parallel requests"));
}

uint64_t kvCacheBytes(const HyperParams &hp, int64_t ctx, kernels::KvType kv) {
  auto [keys, values] = Forward::cacheBytes(hp, ctx, 1, kv);
  return uint64_t(keys + values);
}

Session::Session(const LoadedModel &lm, int threads, int ctx, bool interpret, bool exact, kernels::KvType kv)
    : m(checkContext(lm, ctx, kv).desc), tok(lm.desc.tokenizer), pool(threads), fwd(lm.desc, ctx, pool) {
  if (exact)
    fwd.setPrecision(kernels::Precision::Exact);
  fwd.setKvType(kv);
  if (lm.code.text && !interpret)
    gen = std::make_unique<Executor>(fwd, lm.code);
}

bool Session::isStop(int32_t id) const {
  for (int32_t s : m.tokenizer.stop_ids)
    if (s == id)
      return true;
  return false;
}

const float *Session::feed(const std::vector<int32_t> &ids, bool allLogits) {
  if (ids.empty())
    return nullptr;
  if (history.size() + ids.size() > size_t(fwd.context()))
    throw Error(cat("the context is full (", fwd.context(), " tokens); start again with a larger -c"));
  const float *logits = gen ? gen->forward(ids.data(), int(ids.size()), int(history.size()), allLogits)
                            : fwd.forward(ids.data(), int(ids.size()), int(history.size()), allLogits);
  history.insert(history.end(), ids.begin(), ids.end());
  return logits;
}

int Session::generate(const float *logits, int n, Sampler &s, std::ostream &out) {
  std::vector<float> buf(size_t(m.hp.vocab));
  int produced = 0;
  while (n < 0 || produced < n) {
    std::copy(logits, logits + m.hp.vocab, buf.begin());
    int32_t id = s.sample(buf.data(), int32_t(m.hp.vocab), history);
    ++produced;
    if (isStop(id))
      break;
    if (!tok.isControl(id))
      out << tok.decode(id) << std::flush;
    if (int(history.size()) >= fwd.context()) {
      out << std::flush;
      std::cerr << "\n[context full: " << fwd.context() << " tokens]\n";
      break;
    }
    logits = feed({id});
  }
  return produced;
}

std::vector<int32_t> Session::promptTokens(const std::string &text, bool raw) const {
  const TokenizerDesc &t = m.tokenizer;
  std::string rendered = text;
  if (!raw && !t.chat_template.empty())
    rendered = renderChat(t, {{"user", text}}, true);
  std::vector<int32_t> ids;
  if (t.add_bos && t.bos >= 0 && (raw || t.chat_template.empty()))
    ids.push_back(t.bos);
  auto e = tok.encode(rendered);
  ids.insert(ids.end(), e.begin(), e.end());
  return ids;
}

} // namespace mcc
