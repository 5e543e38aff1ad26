// Renders a conversation with the model's own chat template, as Hugging
// Face's apply_chat_template does.
#pragma once

#include "format/ModelDesc.h"

#include <string>
#include <vector>

namespace mcc {

struct ChatMessage {
  std::string role, content;
};

std::string renderChat(const TokenizerDesc &t, const std::vector<ChatMessage> &messages, bool addGenerationPrompt);

} // namespace mcc
