// Byte-level BPE (GPT-2, SmolLM, Qwen, Llama-3): text -> ids identical to
// the Hugging Face `tokenizers` library, and ids -> bytes.
#pragma once

#include "compiler/import/ModelDesc.h"
#include "runtime/tokenizer/PreTokenizer.h"

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mcc {

class Tokenizer {
public:
  // Throws mcc::Error if the tokenizer is of a kind the runtime cannot run.
  explicit Tokenizer(const TokenizerDesc &desc);

  // Special and added tokens in the text become their ids (as HF does); BOS
  // is not added here.
  std::vector<int32_t> encode(std::string_view text) const;
  // The bytes a token stands for; control tokens give their text.
  std::string decode(int32_t id) const;
  bool isControl(int32_t id) const;
  int32_t vocabSize() const { return int32_t(desc_.tokens.size()); }
  const TokenizerDesc &desc() const { return desc_; }

private:
  void bpe(std::string_view piece, std::vector<int32_t> &out) const;

  const TokenizerDesc &desc_;
  PreTokenizer pre_;
  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int32_t> ranks_; // "left right" -> merge rank
  std::vector<std::string> specials_;              // longest first
  std::vector<int32_t> specialIds_;
  std::string byteChar_[256];                      // byte -> its UTF-8 stand-in
  std::unordered_map<uint32_t, uint8_t> charByte_; // stand-in code point -> byte
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

} // namespace mcc
