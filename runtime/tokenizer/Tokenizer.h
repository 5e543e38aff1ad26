// The two BPE families, text -> ids and ids -> bytes:
//   - byte-level BPE (GPT-2, SmolLM, Qwen, Llama-3), identical to the Hugging
//     Face `tokenizers` library;
//   - SentencePiece-style BPE ("▁" for spaces, <0xNN> byte fallback; Llama-2,
//     Mistral): with merges (tokenizer.json) as `tokenizers` runs it, with
//     piece scores only (GGUF) as sentencepiece and llama.cpp run it.
#pragma once

#include "format/ModelDesc.h"
#include "runtime/tokenizer/PreTokenizer.h"

#include <mutex>
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
  // One piece of text between special tokens.
  void encodeText(std::string_view text, bool atStart, std::vector<int32_t> &out) const;
  // Merge-ranked BPE over one piece (bytes for byte-level, characters for
  // SentencePiece).
  void bpe(std::string_view piece, std::vector<int32_t> &out) const;
  // Score-ranked BPE over one piece (SentencePiece without merges).
  void bpeByScore(std::string_view piece, std::vector<int32_t> &out) const;
  // The <0xNN> tokens of each byte (unk where one is missing).
  void byteFallback(std::string_view bytes, std::vector<int32_t> &out) const;

  const TokenizerDesc &desc_;
  bool spm_;
  PreTokenizer pre_; // byte-level only
  std::unordered_map<std::string, int32_t> vocab_;
  std::unordered_map<std::string, int32_t> ranks_; // "left right" -> merge rank
  std::vector<std::string> specials_;              // longest first
  std::vector<int32_t> specialIds_;
  std::string byteChar_[256];                      // byte -> its UTF-8 stand-in
  std::unordered_map<uint32_t, uint8_t> charByte_; // stand-in code point -> byte
  int32_t byteToken_[256];                         // SentencePiece: <0xNN> ids, -1 if absent
  // Pieces already split. The server's HTTP threads encode at once: the
  // cache is shared, so it is locked (unlocked, concurrent inserts once left
  // four threads looping in a corrupted table).
  mutable std::mutex cacheMutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

} // namespace mcc
