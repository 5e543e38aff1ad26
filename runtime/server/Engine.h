// The server's generation engine: up to `parallel` requests at once, each in
// a slot with its own KV cache, all sharing each forward step. One thread
// runs the model; HTTP threads hand it Jobs and read their events.
//
// A step: one token for every generating slot and prompt tokens of slots
// being admitted, all as rows of one batch through the matrix products, so
// the weights are read once per step for all of them. Requests join and leave between steps. A slot
// keeps its tokens after its request ends, so a request whose prompt starts
// with them (the next turn of a chat) feeds only the rest.
#pragma once

#include "runtime/Executor.h"
#include "runtime/Forward.h"
#include "runtime/Loader.h"
#include "runtime/Sampler.h"
#include "runtime/ThreadPool.h"
#include "runtime/server/Metrics.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace mcc {

struct GenParams {
  std::vector<int32_t> prompt;
  int max_tokens = -1; // -1: until a stop or a full context
  SamplerConfig sampler;
  float presence_penalty = 0, frequency_penalty = 0; // OpenAI's, over the generated tokens
  std::vector<std::string> stop;                      // stop strings; the text ends before one
  bool ignore_eos = false; // llama.cpp's server's extension: end-of-text tokens do not end it
};

// What a job tells its HTTP thread: text (whole UTF-8 characters), then one
// final event with the reason and the counts, or an error.
struct GenEvent {
  std::string text;
  bool done = false;
  std::string finish_reason; // "stop", "length", or empty while generating
  std::string error;
  int prompt_tokens = 0, completion_tokens = 0;
};

// One request between its HTTP thread and the engine.
class Job {
public:
  // `streamed`: the HTTP thread sends text as it comes, so every event wakes
  // it; otherwise only the final one does (a wake per token and request
  // took the cores the batch's threads were computing on).
  Job(GenParams p, bool streamed)
      : params(std::move(p)), streamed(streamed), created(std::chrono::steady_clock::now()) {}
  const GenParams params;
  const bool streamed;
  const std::chrono::steady_clock::time_point created;
  // Set by the HTTP side when the client is gone: the slot is freed at the
  // next step.
  std::atomic<bool> cancelled{false};

  // Engine side.
  void emit(GenEvent e);
  // HTTP side: waits for the next event; false when none came within `wait`.
  bool next(GenEvent &e, std::chrono::milliseconds wait);

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<GenEvent> events_;
};

class Engine {
public:
  // Throws mcc::Error (the KV caches do not fit, the model needs what the
  // runtime lacks).
  Engine(const LoadedModel &lm, int threads, int ctx, int parallel, bool exact, kernels::KvType kv, Metrics &metrics);
  ~Engine();

  // Queues a job; it gets a slot when one is free. False once stopping.
  bool submit(std::shared_ptr<Job> job);
  // Stops taking jobs, ends the running ones (finish_reason "cancelled")
  // and joins the engine thread.
  void stop();

  const Tokenizer &tokenizer() const { return tok_; }
  const ModelDesc &model() const { return m_; }
  int context() const { return fwd_.context(); }
  int parallel() const { return int(slots_.size()); }

private:
  struct Slot {
    std::vector<int32_t> cached; // the tokens in this slot's KV cache, in order
    std::shared_ptr<Job> job;    // null: free
    std::vector<int32_t> feed;   // prompt tokens still to feed (admission)
    int32_t next = -1;           // the sampled token to feed at the next step
    std::unique_ptr<Sampler> sampler;
    std::vector<int32_t> generated;
    std::string text; // every byte generated so far
    size_t sent = 0;  // bytes of text already emitted
    std::chrono::steady_clock::time_point last;
  };

  void loop();
  void admit(std::shared_ptr<Job> job);
  void step();
  // Samples from a slot's logits and handles the token: text, stops, limits.
  void take(int s, const float *logits);
  void finish(int s, const char *reason);
  bool isStop(int32_t id) const;
  void publishGauges();

  const ModelDesc &m_;
  Tokenizer tok_;
  ThreadPool pool_;
  Forward fwd_;
  std::unique_ptr<Executor> gen_;
  Metrics &metrics_;
  std::vector<Slot> slots_;
  size_t longestStop_ = 0;
  std::vector<float> sampleBuf_; // take()'s copy of a row of logits

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

} // namespace mcc
