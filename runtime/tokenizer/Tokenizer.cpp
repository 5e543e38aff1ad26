#include "runtime/tokenizer/Tokenizer.h"
#include "compiler/import/Error.h"
#include "runtime/tokenizer/Unicode.h"

#include <algorithm>
#include <climits>
#include <numeric>

namespace mcc {

static PreTokenizer checkedPreTokenizer(const TokenizerDesc &desc) {
  if (desc.kind != TokenizerDesc::Kind::ByteLevelBPE)
    throw Error("SentencePiece tokenizers are not supported by the runtime yet (byte-level BPE is)");
  return preTokenizerFor(desc);
}

Tokenizer::Tokenizer(const TokenizerDesc &desc) : desc_(desc), pre_(checkedPreTokenizer(desc)) {
  // GPT-2's bytes-to-unicode: printable Latin-1 bytes stand for themselves,
  // the rest are shifted to 256 and up so every byte is a visible character.
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    uint32_t cp = printable ? uint32_t(b) : uint32_t(next++);
    appendUtf8(byteChar_[b], cp);
    charByte_[cp] = uint8_t(b);
  }
  vocab_.reserve(desc.tokens.size());
  for (size_t i = 0; i < desc.tokens.size(); ++i) {
    int32_t type = i < desc.types.size() ? desc.types[i] : 1;
    if (type == 3 || type == 4) {
      if (!desc.tokens[i].empty()) {
        specials_.push_back(desc.tokens[i]);
        specialIds_.push_back(int32_t(i));
      }
    } else {
      vocab_.emplace(desc.tokens[i], int32_t(i));
    }
  }
  std::vector<size_t> order(specials_.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return specials_[a].size() > specials_[b].size(); });
  std::vector<std::string> s;
  std::vector<int32_t> id;
  for (size_t k : order) {
    s.push_back(specials_[k]);
    id.push_back(specialIds_[k]);
  }
  specials_ = std::move(s);
  specialIds_ = std::move(id);
  ranks_.reserve(desc.merges.size());
  for (size_t i = 0; i < desc.merges.size(); ++i)
    ranks_.emplace(desc.merges[i], int32_t(i));
}

bool Tokenizer::isControl(int32_t id) const {
  return id >= 0 && size_t(id) < desc_.types.size() && desc_.types[size_t(id)] == 3;
}

void Tokenizer::bpe(std::string_view piece, std::vector<int32_t> &out) const {
  std::string key(piece);
  if (auto it = cache_.find(key); it != cache_.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
    return;
  }
  std::vector<std::string> sym;
  for (unsigned char c : piece)
    sym.push_back(byteChar_[c]);
  std::string pair;
  while (sym.size() > 1) {
    int32_t best = INT32_MAX;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      pair.assign(sym[i]).append(" ").append(sym[i + 1]);
      auto it = ranks_.find(pair);
      if (it != ranks_.end() && it->second < best)
        best = it->second;
    }
    if (best == INT32_MAX)
      break;
    const std::string &m = desc_.merges[size_t(best)];
    size_t sp = m.find(' ');
    std::string_view a(m.data(), sp), b(m.data() + sp + 1, m.size() - sp - 1);
    std::vector<std::string> merged;
    for (size_t i = 0; i < sym.size(); ++i) {
      if (i + 1 < sym.size() && sym[i] == a && sym[i + 1] == b) {
        merged.push_back(sym[i] + sym[i + 1]);
        ++i;
      } else {
        merged.push_back(std::move(sym[i]));
      }
    }
    sym = std::move(merged);
  }
  std::vector<int32_t> ids;
  for (const std::string &s : sym) {
    auto it = vocab_.find(s);
    if (it != vocab_.end()) {
      ids.push_back(it->second);
      continue;
    }
    // A symbol the vocabulary lacks: fall back to its single bytes.
    for (const CodeUnit &c : decodeUtf8(s)) {
      auto b = charByte_.find(c.cp);
      if (b == charByte_.end())
        continue;
      auto v = vocab_.find(byteChar_[b->second]);
      if (v != vocab_.end())
        ids.push_back(v->second);
      else if (desc_.unk >= 0)
        ids.push_back(desc_.unk);
    }
  }
  out.insert(out.end(), ids.begin(), ids.end());
  if (cache_.size() < 65536)
    cache_.emplace(std::move(key), std::move(ids));
}

std::vector<int32_t> Tokenizer::encode(std::string_view raw) const {
  // The reference tokenizers only ever see valid text (Python str): invalid
  // bytes reach them as U+FFFD, so they do here too.
  std::string clean = sanitizeUtf8(raw);
  std::string_view text = clean;
  std::vector<int32_t> out;
  size_t start = 0, i = 0;
  auto flush = [&](size_t end) {
    for (std::string_view p : preTokenize(pre_, text.substr(start, end - start)))
      bpe(p, out);
  };
  while (i < text.size()) {
    size_t k = 0;
    for (; k < specials_.size(); ++k)
      if (text.compare(i, specials_[k].size(), specials_[k]) == 0)
        break;
    if (k == specials_.size()) {
      ++i;
      continue;
    }
    flush(i);
    out.push_back(specialIds_[k]);
    i += specials_[k].size();
    start = i;
  }
  flush(text.size());
  return out;
}

std::string Tokenizer::decode(int32_t id) const {
  if (id < 0 || size_t(id) >= desc_.tokens.size())
    return {};
  const std::string &t = desc_.tokens[size_t(id)];
  int32_t type = size_t(id) < desc_.types.size() ? desc_.types[size_t(id)] : 1;
  if (type == 3 || type == 4)
    return t;
  std::string out;
  for (const CodeUnit &c : decodeUtf8(t)) {
    auto b = charByte_.find(c.cp);
    if (b != charByte_.end())
      out += char(b->second);
  }
  return out;
}

} // namespace mcc
