#include "runtime/server/Serve.h"
#include "format/Error.h"
#include "runtime/server/Engine.h"
#include "runtime/server/Metrics.h"
#include "runtime/server/OpenAiApi.h"

#include <httplib.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <pthread.h>
#include <thread>

using json = nlohmann::json;

namespace mcc {

namespace {

// Compares every byte whatever the first difference, so the time taken does
// not tell how much of a guessed key was right.
bool sameKey(const std::string &a, const std::string &b) {
  size_t n = std::max(a.size(), b.size());
  volatile unsigned char diff = a.size() != b.size();
  for (size_t i = 0; i < n; ++i)
    diff |= (i < a.size() ? uint8_t(a[i]) : 0) ^ (i < b.size() ? uint8_t(b[i]) : 0);
  return diff == 0;
}

void sendError(httplib::Response &res, const ApiError &e) {
  res.status = e.status;
  res.set_content(e.body(), "application/json");
}

// Routes as metrics label them: anything else is "other", so a scan of
// random paths cannot grow the label set.
std::string routeOf(const std::string &path) {
  for (const char *r : {"/v1/chat/completions", "/v1/completions", "/v1/models", "/health", "/metrics"})
    if (path == r)
      return r;
  return "other";
}

std::string sse(const std::string &data) { return "data: " + data + "\n\n"; }

class Server {
public:
  Server(const LoadedModel &lm, const ServeOptions &o)
      : o_(o), engine_(lm, o.threads, o.ctx, o.parallel, o.exact, o.kv, metrics_) {
    // Streams and waiting requests hold an HTTP thread each: room for every
    // slot's stream, queued requests and quick routes besides.
    http_.new_task_queue = [n = size_t(o.parallel) * 2 + 8] { return new httplib::ThreadPool(n); };
    http_.set_payload_max_length(o.max_body);
    http_.set_pre_routing_handler([this](const httplib::Request &req, httplib::Response &res) {
      if (o_.api_key.empty() || req.path.rfind("/v1/", 0) != 0)
        return httplib::Server::HandlerResponse::Unhandled;
      if (sameKey(req.get_header_value("Authorization"), "Bearer " + o_.api_key))
        return httplib::Server::HandlerResponse::Unhandled;
      sendError(res, {401, "a valid API key is required: Authorization: Bearer KEY", "", "authentication_error"});
      return httplib::Server::HandlerResponse::Handled;
    });
    http_.set_error_handler([this](const httplib::Request &req, httplib::Response &res) {
      if (!res.body.empty())
        return;
      if (res.status == 404)
        sendError(res, {404, cat("no route ", req.method, " ", req.path), "", "not_found_error"});
      else if (res.status == 413)
        sendError(res, {413, cat("the request body is over the limit of ", o_.max_body, " bytes"), ""});
      else
        sendError(res, {res.status, cat("HTTP ", res.status), ""});
    });
    http_.set_logger(
        [this](const httplib::Request &req, const httplib::Response &res) { metrics_.request(routeOf(req.path), res.status); });
    http_.Get("/health", [](const httplib::Request &, httplib::Response &res) {
      res.set_content(R"({"status":"ok"})", "application/json");
    });
    http_.Get("/metrics", [this](const httplib::Request &, httplib::Response &res) {
      res.set_content(metrics_.text(), "text/plain; version=0.0.4");
    });
    http_.Get("/v1/models", [this](const httplib::Request &, httplib::Response &res) {
      json m = {{"id", modelName()}, {"object", "model"}, {"created", 0}, {"owned_by", "mcc"},
                {"context_length", engine_.context()}};
      res.set_content(json{{"object", "list"}, {"data", json::array({m})}}.dump(-1, ' ', false,
                                                                                json::error_handler_t::replace),
                      "application/json");
    });
    http_.Post("/v1/chat/completions", [this](const httplib::Request &req, httplib::Response &res) {
      generate(Endpoint::Chat, req, res);
    });
    http_.Post("/v1/completions", [this](const httplib::Request &req, httplib::Response &res) {
      generate(Endpoint::Completion, req, res);
    });
  }

  bool bind() { return http_.bind_to_port(o_.host, o_.port); }
  void listen() { http_.listen_after_bind(); }
  void stop() {
    engine_.stop();
    http_.stop();
  }
  std::string modelName() const { return engine_.model().name; }
  int context() const { return engine_.context(); }

private:
  void generate(Endpoint e, const httplib::Request &req, httplib::Response &res) {
    ApiRequest r;
    try {
      r = parseRequest(e, req.body, engine_);
    } catch (const ApiError &err) {
      return sendError(res, err);
    }
    auto job = std::make_shared<Job>(std::move(r.params), r.stream);
    if (!engine_.submit(job))
      return sendError(res, {503, "the server is shutting down", "", "server_error"});
    auto responder = std::make_shared<ApiResponder>(e, modelName());
    if (!r.stream) {
      std::string text;
      GenEvent ev;
      for (;;) {
        if (!job->next(ev, std::chrono::milliseconds(200)))
          continue;
        if (!ev.error.empty())
          return sendError(res, {500, ev.error, "", "server_error"});
        text += ev.text;
        if (ev.done)
          break;
      }
      res.set_content(responder->complete(text, ev), "application/json");
      return;
    }
    // Server-sent events: the role first (chat), then text as it comes, the
    // finish reason, usage when asked for, and [DONE]. A write that fails
    // means the client is gone: the job is cancelled and its slot freed.
    res.set_header("Cache-Control", "no-cache");
    bool usage = r.include_usage, chat = e == Endpoint::Chat;
    auto started = std::make_shared<bool>(false);
    res.set_chunked_content_provider(
        "text/event-stream",
        [job, responder, usage, chat, started](size_t, httplib::DataSink &sink) {
          auto put = [&](const std::string &s) {
            if (sink.write(s.data(), s.size()))
              return true;
            job->cancelled = true;
            return false;
          };
          if (!*started) {
            *started = true;
            if (chat && !put(sse(responder->firstChunk())))
              return false;
          }
          GenEvent ev;
          if (!job->next(ev, std::chrono::milliseconds(200)))
            return true; // nothing yet: asked again
          if (!ev.error.empty()) {
            put(sse(ApiError{500, ev.error, "", "server_error"}.body()));
            sink.done();
            return true;
          }
          if (!ev.text.empty() && !put(sse(responder->textChunk(ev.text))))
            return false;
          if (ev.done) {
            if (!put(sse(responder->finalChunk(ev))) || (usage && !put(sse(responder->usageChunk(ev)))) ||
                !put("data: [DONE]\n\n"))
              return false;
            sink.done();
          }
          return true;
        },
        [job](bool success) {
          if (!success)
            job->cancelled = true;
        });
  }

  ServeOptions o_;
  Metrics metrics_;
  Engine engine_;
  httplib::Server http_;
};

} // namespace

int runServe(const LoadedModel &lm, const ServeOptions &o) {
  // SIGINT and SIGTERM go to one thread, which stops the server; every
  // other thread (created below) inherits the block.
  // (Left blocked on return: the process is ending, and a signal that
  // arrives late must not turn a clean exit into a kill.)
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGINT);
  sigaddset(&stopSignals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  Server server(lm, o);
  if (!server.bind())
    throw Error(cat("serve: cannot listen on ", o.host, ":", o.port, ": ", std::strerror(errno)));
  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stopSignals, &sig);
    signalled = true;
    server.stop();
  });
  std::fprintf(stderr, "serving %s on http://%s:%d (%d parallel, %d tokens of context each)\n",
               server.modelName().c_str(), o.host.c_str(), o.port, o.parallel, server.context());
  server.listen();
  // listen returns once stopped by the waiter, or on its own on an error:
  // then wake the waiter so it can be joined.
  if (!signalled)
    pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  std::fprintf(stderr, "stopped\n");
  return 0;
}

} // namespace mcc
