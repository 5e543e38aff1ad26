#include "runtime/server/OpenAiApi.h"
#include "format/Error.h"
#include "runtime/chat/ChatTemplate.h"

#include <atomic>
#include <chrono>
#include <cmath>

using json = nlohmann::json;

namespace mcc {

namespace {

[[noreturn]] void bad(const std::string &param, const std::string &message) { throw ApiError{400, message, param}; }

const char *typeName(const json &v) {
  switch (v.type()) {
  case json::value_t::null: return "null";
  case json::value_t::boolean: return "a boolean";
  case json::value_t::string: return "a string";
  case json::value_t::array: return "an array";
  case json::value_t::object: return "an object";
  default: return "a number";
  }
}

// A field that must be absent, null, or what the getter wants.
bool present(const json &j, const char *key) { return j.contains(key) && !j[key].is_null(); }

double number(const json &j, const char *key, double lo, double hi, double dflt) {
  if (!present(j, key))
    return dflt;
  const json &v = j[key];
  if (!v.is_number())
    bad(key, cat("'", key, "' must be a number, not ", typeName(v)));
  double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    bad(key, cat("'", key, "' must be between ", lo, " and ", hi, ", not ", v.dump()));
  return x;
}

int64_t integer(const json &j, const char *key, int64_t lo, int64_t hi, int64_t dflt) {
  if (!present(j, key))
    return dflt;
  const json &v = j[key];
  if (!v.is_number_integer())
    bad(key, cat("'", key, "' must be an integer, not ", v.is_number() ? v.dump() : typeName(v)));
  int64_t x = v.is_number_unsigned() ? int64_t(std::min<uint64_t>(v.get<uint64_t>(), uint64_t(INT64_MAX)))
                                     : v.get<int64_t>();
  if (x < lo || x > hi)
    bad(key, cat("'", key, "' must be between ", lo, " and ", hi, ", not ", x));
  return x;
}

bool boolean(const json &j, const char *key, bool dflt) {
  if (!present(j, key))
    return dflt;
  if (!j[key].is_boolean())
    bad(key, cat("'", key, "' must be a boolean, not ", typeName(j[key])));
  return j[key].get<bool>();
}

std::string text(const json &v, const std::string &param) {
  if (!v.is_string())
    bad(param, cat("'", param, "' must be a string, not ", typeName(v)));
  return v.get<std::string>();
}

// message content: a string, or an array of {"type": "text", "text": ...}
// parts (other part types are images and audio, which a text model cannot take).
std::string content(const json &m, const std::string &param) {
  if (!m.contains("content") || m["content"].is_null())
    return "";
  const json &c = m["content"];
  if (c.is_string())
    return c.get<std::string>();
  if (!c.is_array())
    bad(param + ".content", cat("'", param, ".content' must be a string or an array of text parts, not ", typeName(c)));
  std::string out;
  for (size_t i = 0; i < c.size(); ++i) {
    std::string p = cat(param, ".content[", i, "]");
    if (!c[i].is_object() || !c[i].contains("type") || !c[i]["type"].is_string())
      bad(p, cat("'", p, "' must be an object with a 'type'"));
    if (c[i]["type"] != "text")
      bad(p + ".type", cat("'", p, ".type' = ", c[i]["type"].dump(), ": only text parts are supported"));
    out += text(c[i].value("text", json()), p + ".text");
  }
  return out;
}

// Features of the API this server does not have: a clear 400, never a
// silently different answer.
void refuse(const json &j, const char *key, bool whenTrue, const char *what) {
  if (!present(j, key))
    return;
  const json &v = j[key];
  bool used = v.is_boolean() ? v.get<bool>() : v.is_array() ? !v.empty() : v.is_number() ? v.get<double>() != 0 : true;
  if (!whenTrue || used)
    bad(key, cat("'", key, "': ", what, " is not supported by this server"));
}

std::vector<int32_t> promptTokens(const Engine &engine, const std::string &rendered, bool templated) {
  const TokenizerDesc &t = engine.model().tokenizer;
  std::vector<int32_t> ids;
  // As the command line does: the template brings its own BOS.
  if (t.add_bos && t.bos >= 0 && !templated)
    ids.push_back(t.bos);
  auto e = engine.tokenizer().encode(rendered);
  ids.insert(ids.end(), e.begin(), e.end());
  return ids;
}

std::string makeId(const char *prefix) {
  static std::atomic<uint64_t> counter{0};
  uint64_t n = ++counter;
  auto t = std::chrono::system_clock::now().time_since_epoch().count();
  return cat(prefix, std::hex, uint64_t(t) ^ (n * 0x9E3779B97F4A7C15ull));
}

} // namespace

std::string ApiError::body() const {
  return json{{"error", {{"message", message}, {"type", type}, {"param", param.empty() ? json() : json(param)},
                         {"code", nullptr}}}}
      .dump(-1, ' ', false, json::error_handler_t::replace);
}

ApiRequest parseRequest(Endpoint e, const std::string &body, const Engine &engine) {
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception &ex) {
    throw ApiError{400, cat("the body is not valid JSON: ", ex.what()), ""};
  }
  if (!j.is_object())
    throw ApiError{400, cat("the body must be a JSON object, not ", typeName(j)), ""};
  ApiRequest r;
  r.endpoint = e;
  if (present(j, "model"))
    text(j["model"], "model");
  r.stream = boolean(j, "stream", false);
  if (present(j, "stream_options")) {
    if (!j["stream_options"].is_object())
      bad("stream_options", "'stream_options' must be an object");
    r.include_usage = boolean(j["stream_options"], "include_usage", false);
  }
  if (integer(j, "n", 1, 1 << 20, 1) != 1)
    bad("n", "'n' must be 1: one choice per request");
  GenParams &p = r.params;
  // OpenAI's defaults: temperature 1, top_p 1, nothing else cut.
  SamplerConfig &sc = p.sampler;
  sc.temp = float(number(j, "temperature", 0, 2, 1));
  sc.top_p = float(number(j, "top_p", 0, 1, 1));
  sc.top_k = int(integer(j, "top_k", 0, 1 << 20, 0)); // llama.cpp's server's extensions
  sc.min_p = float(number(j, "min_p", 0, 1, 0));
  sc.repeat_penalty = float(number(j, "repeat_penalty", 0.01, 100, 1));
  sc.seed = uint64_t(integer(j, "seed", INT64_MIN, INT64_MAX,
                             int64_t(std::chrono::steady_clock::now().time_since_epoch().count())));
  p.presence_penalty = float(number(j, "presence_penalty", -2, 2, 0));
  p.frequency_penalty = float(number(j, "frequency_penalty", -2, 2, 0));
  const char *maxKey = e == Endpoint::Chat && present(j, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  p.max_tokens = int(integer(j, maxKey, 0, 1 << 24, -1));
  p.ignore_eos = boolean(j, "ignore_eos", false);
  if (present(j, "stop")) {
    const json &s = j["stop"];
    if (s.is_string()) {
      p.stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      if (s.size() > 4)
        bad("stop", "'stop' holds at most 4 strings");
      for (size_t i = 0; i < s.size(); ++i)
        p.stop.push_back(text(s[i], cat("stop[", i, "]")));
    } else {
      bad("stop", cat("'stop' must be a string or an array of strings, not ", typeName(s)));
    }
    std::erase(p.stop, std::string());
  }
  refuse(j, "logprobs", true, "logprobs");
  refuse(j, "top_logprobs", true, "top_logprobs");
  refuse(j, "logit_bias", false, "logit_bias");

  std::string rendered;
  bool templated = false;
  if (e == Endpoint::Chat) {
    refuse(j, "tools", true, "tool calling");
    refuse(j, "functions", true, "function calling");
    if (present(j, "response_format")) {
      const json &f = j["response_format"];
      if (!f.is_object() || f.value("type", json()) != "text")
        bad("response_format", "'response_format': only {\"type\": \"text\"} is supported by this server");
    }
    if (!j.contains("messages"))
      bad("messages", "'messages' is required");
    const json &ms = j["messages"];
    if (!ms.is_array() || ms.empty())
      bad("messages", cat("'messages' must be a non-empty array, not ", ms.is_array() ? "an empty one" : typeName(ms)));
    std::vector<ChatMessage> msgs;
    for (size_t i = 0; i < ms.size(); ++i) {
      std::string param = cat("messages[", i, "]");
      if (!ms[i].is_object())
        bad(param, cat("'", param, "' must be an object, not ", typeName(ms[i])));
      if (!ms[i].contains("role"))
        bad(param + ".role", cat("'", param, ".role' is required"));
      std::string role = text(ms[i]["role"], param + ".role");
      if (role == "developer")
        role = "system";
      if (role != "system" && role != "user" && role != "assistant")
        bad(param + ".role", cat("'", param, ".role' = '", role, "': system, user or assistant"));
      msgs.push_back({role, content(ms[i], param)});
    }
    const TokenizerDesc &t = engine.model().tokenizer;
    if (t.chat_template.empty()) {
      for (const ChatMessage &m : msgs)
        rendered += m.content + "\n";
    } else {
      try {
        rendered = renderChat(t, msgs, true);
      } catch (const Error &ex) {
        bad("messages", cat("the model's chat template rejects these messages: ", ex.what()));
      }
      templated = true;
    }
  } else {
    refuse(j, "echo", true, "echo");
    refuse(j, "suffix", false, "suffix");
    if (integer(j, "best_of", 1, 1 << 20, 1) != 1)
      bad("best_of", "'best_of' must be 1: one choice per request");
    if (!j.contains("prompt"))
      bad("prompt", "'prompt' is required");
    const json &pr = j["prompt"];
    if (pr.is_array()) {
      if (pr.size() != 1)
        bad("prompt", "'prompt' must be one string (batches of prompts are not supported)");
      rendered = text(pr[0], "prompt[0]");
    } else {
      rendered = text(pr, "prompt");
    }
  }
  p.prompt = promptTokens(engine, rendered, templated);
  if (p.prompt.empty())
    bad(e == Endpoint::Chat ? "messages" : "prompt", "the prompt is empty");
  if (int64_t(p.prompt.size()) >= engine.context())
    bad(e == Endpoint::Chat ? "messages" : "prompt",
        cat("the prompt is ", p.prompt.size(), " tokens, and the context holds ", engine.context(),
            " (the prompt and at least one generated token): shorten it, or start the server with a larger -c"));
  return r;
}

ApiResponder::ApiResponder(Endpoint e, std::string model)
    : e_(e), model_(std::move(model)), id_(makeId(e == Endpoint::Chat ? "chatcmpl-" : "cmpl-")),
      created_(std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count()) {}

json ApiResponder::base(const char *object) const {
  return json{{"id", id_}, {"object", object}, {"created", created_}, {"model", model_}};
}

static json usage(const GenEvent &last) {
  return json{{"prompt_tokens", last.prompt_tokens},
              {"completion_tokens", last.completion_tokens},
              {"total_tokens", last.prompt_tokens + last.completion_tokens}};
}

static std::string dump(const json &j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string ApiResponder::complete(const std::string &text, const GenEvent &last) const {
  json j = base(e_ == Endpoint::Chat ? "chat.completion" : "text_completion");
  if (e_ == Endpoint::Chat)
    j["choices"] = json::array({{{"index", 0},
                                 {"message", {{"role", "assistant"}, {"content", text}}},
                                 {"finish_reason", last.finish_reason}}});
  else
    j["choices"] = json::array(
        {{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", last.finish_reason}}});
  j["usage"] = usage(last);
  return dump(j);
}

std::string ApiResponder::firstChunk() const {
  json j = base("chat.completion.chunk");
  j["choices"] =
      json::array({{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"finish_reason", nullptr}}});
  return dump(j);
}

std::string ApiResponder::textChunk(const std::string &text) const {
  if (e_ == Endpoint::Chat) {
    json j = base("chat.completion.chunk");
    j["choices"] = json::array({{{"index", 0}, {"delta", {{"content", text}}}, {"finish_reason", nullptr}}});
    return dump(j);
  }
  json j = base("text_completion");
  j["choices"] = json::array({{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", nullptr}}});
  return dump(j);
}

std::string ApiResponder::finalChunk(const GenEvent &last) const {
  if (e_ == Endpoint::Chat) {
    json j = base("chat.completion.chunk");
    j["choices"] = json::array({{{"index", 0}, {"delta", json::object()}, {"finish_reason", last.finish_reason}}});
    return dump(j);
  }
  json j = base("text_completion");
  j["choices"] =
      json::array({{{"index", 0}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", last.finish_reason}}});
  return dump(j);
}

std::string ApiResponder::usageChunk(const GenEvent &last) const {
  json j = base(e_ == Endpoint::Chat ? "chat.completion.chunk" : "text_completion");
  j["choices"] = json::array();
  j["usage"] = usage(last);
  return dump(j);
}

} // namespace mcc
