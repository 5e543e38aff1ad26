// tokenizer.json (+ tokenizer_config.json, generation_config.json and
// chat_template.jinja when present) to the canonical TokenizerDesc.
#pragma once

#include "compiler/import/HFConfig.h"
#include "format/ModelDesc.h"

#include <string>
#include <string_view>

namespace mcc {

// The tokenizer.json text alone: vocabulary, merges, added tokens, kind.
TokenizerDesc parseTokenizerJson(std::string_view text, const std::string &path);

// Everything in DIR that describes the tokenizer; config supplies fallback ids.
TokenizerDesc loadHFTokenizer(const std::string &dir, const HFConfig &config);

} // namespace mcc
