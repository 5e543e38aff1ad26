#include "runtime/chat/ChatTemplate.h"
#include "runtime/chat/Jinja.h"

namespace mcc {

std::string renderChat(const TokenizerDesc &t, const std::vector<ChatMessage> &messages, bool addGenerationPrompt) {
  jinja::List msgs;
  for (const ChatMessage &m : messages)
    msgs.push_back(jinja::Value(jinja::Dict{{"role", m.role}, {"content", m.content}}));
  auto token = [&](int32_t id) {
    return id >= 0 && size_t(id) < t.tokens.size() ? jinja::Value(t.tokens[size_t(id)]) : jinja::Value("");
  };
  jinja::Dict vars{{"messages", jinja::Value(msgs)},
                   {"add_generation_prompt", jinja::Value(addGenerationPrompt)},
                   {"bos_token", token(t.bos)},
                   {"eos_token", token(t.eos)}};
  return jinja::render(t.chat_template, vars);
}

} // namespace mcc
