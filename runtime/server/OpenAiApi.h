// The OpenAI API's request and response bodies: requests checked field by
// field into GenParams (a bad one is an ApiError naming the field), results
// and stream chunks written the way OpenAI's clients read them.
#pragma once

#include "runtime/server/Engine.h"

#include <nlohmann/json.hpp>
#include <string>

namespace mcc {

// An error answered in OpenAI's shape: {"error": {message, type, param, code}}.
struct ApiError {
  int status;
  std::string message;
  std::string param; // the offending field, or empty
  std::string type = "invalid_request_error";
  std::string body() const;
};

enum class Endpoint { Chat, Completion };

struct ApiRequest {
  Endpoint endpoint;
  GenParams params;
  bool stream = false;
  bool include_usage = false; // stream_options.include_usage
};

// Parses and checks a POST body for the endpoint, renders chat messages
// through the model's template and tokenizes the prompt. Throws ApiError.
ApiRequest parseRequest(Endpoint e, const std::string &body, const Engine &engine);

// The response of a finished request, and the pieces of a streamed one.
class ApiResponder {
public:
  ApiResponder(Endpoint e, std::string model);
  std::string complete(const std::string &text, const GenEvent &last) const;
  std::string firstChunk() const; // chat: the assistant role, empty content
  std::string textChunk(const std::string &text) const;
  std::string finalChunk(const GenEvent &last) const;
  std::string usageChunk(const GenEvent &last) const;

private:
  nlohmann::json base(const char *object) const;
  Endpoint e_;
  std::string model_, id_;
  int64_t created_;
};

} // namespace mcc
