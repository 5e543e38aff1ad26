// Pre-tokenizers: split text into the pieces BPE works on, exactly as the
// regexes of the reference tokenizers do, written out by hand so no regex
// engine (and no Unicode-property support in one) is needed at run time.
#pragma once

#include "format/ModelDesc.h"

#include <string>
#include <string_view>
#include <vector>

namespace mcc {

enum class PreTokenizer : uint8_t {
  Gpt2,   // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  SmolLM, // every digit alone, then Gpt2
  Qwen2,  // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  Llama3, // as Qwen2 with \p{N}{1,3}
};

// Which rules a tokenizer uses; throws mcc::Error for ones mcc does not know.
PreTokenizer preTokenizerFor(const TokenizerDesc &t);
const char *preTokenizerName(PreTokenizer p);

std::vector<std::string_view> preTokenize(PreTokenizer p, std::string_view text);

} // namespace mcc
