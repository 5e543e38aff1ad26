#include "runtime/server/Engine.h"
#include "format/Error.h"

#include <algorithm>
#include <unordered_map>

namespace mcc {

namespace {

// Prompt tokens fed per step while a request is admitted: a multiple of the
// generated code's largest batch (64), so a prompt splits into the same
// batches as when fed at once, and small enough that generating slots wait
// at most one chunk for their next token.
constexpr size_t kPrefillChunk = 256;

// The end of the longest prefix of s[from, limit) that ends on a whole
// UTF-8 character: a stream never splits one.
size_t wholeCharacters(const std::string &s, size_t from, size_t limit) {
  size_t k = 0; // continuation bytes just before limit
  while (limit - k > from && (uint8_t(s[limit - k - 1]) & 0xC0) == 0x80)
    ++k;
  if (limit - k == from)
    return limit;
  size_t lead = limit - k - 1;
  uint8_t b = uint8_t(s[lead]);
  size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 1;
  return k + 1 >= len ? limit : lead;
}

} // namespace

void Job::emit(GenEvent e) {
  bool wake = streamed || e.done || !e.error.empty();
  {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  if (wake)
    cv_.notify_all();
}

bool Job::next(GenEvent &e, std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, wait, [&] { return !events_.empty(); }))
    return false;
  e = std::move(events_.front());
  events_.pop_front();
  return true;
}

Engine::Engine(const LoadedModel &lm, int threads, int ctx, int parallel, bool exact, kernels::KvType kv,
               Metrics &metrics)
    : m_(lm.desc), tok_(lm.desc.tokenizer), pool_(threads), fwd_(lm.desc, ctx, pool_, parallel), metrics_(metrics),
      slots_(size_t(parallel)) {
  if (exact)
    fwd_.setPrecision(kernels::Precision::Exact);
  fwd_.setKvType(kv);
  if (lm.code.text)
    gen_ = std::make_unique<Executor>(fwd_, lm.code);
  publishGauges();
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() { stop(); }

bool Engine::submit(std::shared_ptr<Job> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_)
      return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_all();
  return true;
}

void Engine::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable())
      return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable())
    thread_.join();
  for (size_t s = 0; s < slots_.size(); ++s)
    if (slots_[s].job)
      finish(int(s), "cancelled");
  std::lock_guard lock(mu_);
  for (auto &job : queue_) {
    GenEvent e;
    e.done = true;
    e.error = "the server is shutting down";
    job->emit(std::move(e));
  }
  queue_.clear();
}

bool Engine::isStop(int32_t id) const {
  return std::find(m_.tokenizer.stop_ids.begin(), m_.tokenizer.stop_ids.end(), id) != m_.tokenizer.stop_ids.end();
}

void Engine::loop() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> incoming;
    {
      std::unique_lock lock(mu_);
      auto busy = [&] {
        return std::any_of(slots_.begin(), slots_.end(), [](const Slot &s) { return s.job != nullptr; });
      };
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || busy(); });
      if (stopping_)
        return;
      size_t free = size_t(std::count_if(slots_.begin(), slots_.end(), [](const Slot &s) { return !s.job; }));
      while (!queue_.empty() && incoming.size() < free) {
        incoming.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    for (auto &job : incoming)
      admit(std::move(job));
    for (size_t s = 0; s < slots_.size(); ++s)
      if (slots_[s].job && slots_[s].job->cancelled)
        finish(int(s), "cancelled");
    try {
      step();
    } catch (const std::exception &e) {
      // A failed step leaves no slot's cache trustworthy: end them all.
      for (size_t s = 0; s < slots_.size(); ++s)
        if (slots_[s].job) {
          GenEvent ev;
          ev.done = true;
          ev.error = e.what();
          slots_[s].job->emit(std::move(ev));
          slots_[s].job.reset();
          slots_[s].cached.clear();
        }
    }
    publishGauges();
  }
}

// The free slot whose cache shares the longest prefix with the prompt; the
// rest of the prompt is fed from there. At least the last prompt token is
// always fed: its logits give the first generated token.
void Engine::admit(std::shared_ptr<Job> job) {
  const std::vector<int32_t> &prompt = job->params.prompt;
  int best = -1;
  size_t bestLen = 0;
  for (size_t s = 0; s < slots_.size(); ++s) {
    if (slots_[s].job)
      continue;
    const std::vector<int32_t> &c = slots_[s].cached;
    size_t l = size_t(std::mismatch(c.begin(), c.end(), prompt.begin(), prompt.end()).first - c.begin());
    if (best < 0 || l > bestLen)
      best = int(s), bestLen = l;
  }
  Slot &sl = slots_[size_t(best)];
  size_t common = std::min(bestLen, prompt.size() - 1);
  sl.cached.resize(common);
  sl.feed.assign(prompt.begin() + std::ptrdiff_t(common), prompt.end());
  sl.job = std::move(job);
  sl.sampler = std::make_unique<Sampler>(sl.job->params.sampler);
  sl.generated.clear();
  sl.text.clear();
  sl.sent = 0;
  sl.next = -1;
  longestStop_ = 0;
  for (const Slot &o : slots_)
    if (o.job)
      for (const std::string &st : o.job->params.stop)
        longestStop_ = std::max(longestStop_, st.size());
}

// One step over every slot with work. A lone sequence runs the generated
// code (the path of -p, token for token). Several share one pass of the
// runtime's forward: a row for each generating slot's next token, then
// prompt tokens of slots being admitted up to a full batch, so the weights
// are read once per step for all of them.
void Engine::step() {
  std::vector<int> generating, admitting;
  for (size_t s = 0; s < slots_.size(); ++s)
    if (slots_[s].job && !slots_[s].feed.empty())
      admitting.push_back(int(s));
    else if (slots_[s].job && slots_[s].next >= 0)
      generating.push_back(int(s));
  if (generating.empty() && admitting.empty())
    return;
  size_t V = size_t(m_.hp.vocab);
  if (gen_ && generating.size() + admitting.size() == 1) {
    int s = generating.empty() ? admitting[0] : generating[0];
    Slot &sl = slots_[size_t(s)];
    fwd_.setSlot(s);
    std::vector<int32_t> ids = admitting.empty() ? std::vector<int32_t>{sl.next} : sl.feed;
    ids.resize(std::min(ids.size(), kPrefillChunk));
    const float *logits = gen_->forward(ids.data(), int(ids.size()), int(sl.cached.size()), false);
    sl.cached.insert(sl.cached.end(), ids.begin(), ids.end());
    if (!admitting.empty())
      sl.feed.erase(sl.feed.begin(), sl.feed.begin() + std::ptrdiff_t(ids.size()));
    if (sl.feed.empty())
      take(s, logits);
    return;
  }
  std::vector<int32_t> tokens;
  std::vector<int> slot, pos;
  std::vector<uint8_t> want;
  auto row = [&](int32_t t, int s, int p, bool w) {
    tokens.push_back(t), slot.push_back(s), pos.push_back(p), want.push_back(w);
  };
  for (int s : generating)
    row(slots_[size_t(s)].next, s, int(slots_[size_t(s)].cached.size()), true);
  std::vector<std::pair<int, size_t>> chunks; // (slot, prompt tokens fed this step)
  for (int s : admitting) {
    const Slot &sl = slots_[size_t(s)];
    size_t room = size_t(Forward::kMaxBatch) - tokens.size();
    size_t k = std::min(sl.feed.size(), room);
    if (k == 0)
      break;
    for (size_t j = 0; j < k; ++j)
      row(sl.feed[j], s, int(sl.cached.size() + j), j + 1 == sl.feed.size());
    chunks.emplace_back(s, k);
  }
  const float *logits = fwd_.forwardRows(tokens.data(), slot.data(), pos.data(), want.data(), int(tokens.size()));
  size_t at = 0;
  for (int s : generating) {
    Slot &sl = slots_[size_t(s)];
    sl.cached.push_back(sl.next);
    take(s, logits + at++ * V);
  }
  for (auto [s, k] : chunks) {
    Slot &sl = slots_[size_t(s)];
    sl.cached.insert(sl.cached.end(), sl.feed.begin(), sl.feed.begin() + std::ptrdiff_t(k));
    sl.feed.erase(sl.feed.begin(), sl.feed.begin() + std::ptrdiff_t(k));
    if (sl.feed.empty())
      take(s, logits + at++ * V);
  }
}

void Engine::take(int s, const float *logits) {
  Slot &sl = slots_[size_t(s)];
  const GenParams &p = sl.job->params;
  int32_t V = int32_t(m_.hp.vocab);
  int32_t id;
  if (sl.sampler->greedyAsIs() && p.presence_penalty == 0 && p.frequency_penalty == 0) {
    id = argmax(logits, V);
  } else {
    // Sampling changes the logits in place: a copy, in a buffer kept (a
    // fresh one per token was an mmap and page faults, the vocabulary's size).
    std::vector<float> &buf = sampleBuf_;
    buf.assign(logits, logits + V);
    if (p.presence_penalty != 0 || p.frequency_penalty != 0) {
      std::unordered_map<int32_t, int> counts;
      for (int32_t t : sl.generated)
        ++counts[t];
      for (auto [t, c] : counts)
        buf[size_t(t)] -= p.presence_penalty + p.frequency_penalty * float(c);
    }
    id = sl.sampler->sample(buf.data(), V, sl.cached);
  }
  auto now = std::chrono::steady_clock::now();
  if (sl.generated.empty())
    metrics_.firstToken(std::chrono::duration<double>(now - sl.job->created).count());
  else
    metrics_.tokenLatency(std::chrono::duration<double>(now - sl.last).count());
  sl.last = now;
  if (isStop(id) && !p.ignore_eos)
    return finish(s, "stop");
  sl.generated.push_back(id);
  size_t before = sl.text.size();
  if (!tok_.isControl(id))
    sl.text += tok_.decode(id);
  // A stop string ends the text before it; it may straddle tokens.
  size_t cut = std::string::npos;
  for (const std::string &st : p.stop) {
    size_t from = before >= st.size() ? before - st.size() + 1 : 0;
    size_t at = sl.text.find(st, std::max(from, sl.sent));
    if (at != std::string::npos)
      cut = std::min(cut, at);
  }
  if (cut != std::string::npos) {
    sl.text.resize(cut);
    return finish(s, "stop");
  }
  // Hold back what could still become a stop string, and partial characters.
  size_t hold = longestStop_ > 0 ? longestStop_ - 1 : 0;
  size_t limit = sl.text.size() > sl.sent + hold ? sl.text.size() - hold : sl.sent;
  limit = wholeCharacters(sl.text, sl.sent, limit);
  if (limit > sl.sent) {
    GenEvent e;
    e.text = sl.text.substr(sl.sent, limit - sl.sent);
    sl.sent = limit;
    sl.job->emit(std::move(e));
  }
  if (p.max_tokens >= 0 && int(sl.generated.size()) >= p.max_tokens)
    return finish(s, "length");
  if (int(sl.cached.size()) + 1 > fwd_.context())
    return finish(s, "length");
  sl.next = id;
}

void Engine::finish(int s, const char *reason) {
  Slot &sl = slots_[size_t(s)];
  if (sl.sent < sl.text.size()) {
    GenEvent e;
    e.text = sl.text.substr(sl.sent);
    sl.sent = sl.text.size();
    sl.job->emit(std::move(e));
  }
  GenEvent e;
  e.done = true;
  e.finish_reason = reason;
  e.prompt_tokens = int(sl.job->params.prompt.size());
  e.completion_tokens = int(sl.generated.size());
  metrics_.tokens(e.prompt_tokens, e.completion_tokens);
  sl.job->emit(std::move(e));
  sl.job.reset();
  sl.feed.clear();
  sl.next = -1;
}

void Engine::publishGauges() {
  int active = 0;
  int64_t used = 0;
  for (const Slot &s : slots_) {
    active += s.job != nullptr;
    used += int64_t(s.cached.size());
  }
  metrics_.slots(active, int(slots_.size()), used, int64_t(slots_.size()) * fwd_.context());
}

} // namespace mcc
