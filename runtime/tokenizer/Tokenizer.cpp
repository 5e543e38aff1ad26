#include "runtime/tokenizer/Tokenizer.h"
#include "format/Error.h"
#include "runtime/tokenizer/Unicode.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <numeric>
#include <queue>

namespace mcc {

namespace {
constexpr std::string_view kSpace = "\xe2\x96\x81"; // U+2581, SentencePiece's stand-in for ' '

// Unknown (2), control (3) and user-defined (4) tokens are matched in the
// text before BPE, as llama.cpp and `tokenizers` (added tokens) both do.
bool matchedAsWhole(int32_t type) { return type == 2 || type == 3 || type == 4; }

size_t utf8Length(unsigned char lead) {
  return lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 1;
}
} // namespace

Tokenizer::Tokenizer(const TokenizerDesc &desc)
    : desc_(desc), spm_(desc.kind == TokenizerDesc::Kind::SentencePieceBPE),
      pre_(spm_ ? PreTokenizer::Gpt2 : preTokenizerFor(desc)) {
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
    if (matchedAsWhole(type)) {
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
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = vocab_.find(name);
    byteToken_[b] = it != vocab_.end() ? it->second : -1;
  }
  if (spm_ && desc.merges.empty() && desc.scores.size() != desc.tokens.size())
    throw Error("SentencePiece tokenizer has neither merges nor one score per token");
}

void Tokenizer::byteFallback(std::string_view bytes, std::vector<int32_t> &out) const {
  for (unsigned char c : bytes)
    if (byteToken_[c] >= 0)
      out.push_back(byteToken_[c]);
    else if (desc_.unk >= 0)
      out.push_back(desc_.unk);
}

// sentencepiece's BPE: start from characters, repeatedly merge the adjacent
// pair whose concatenation is the highest-scoring piece (leftmost on ties);
// what never becomes a piece falls back to bytes.
void Tokenizer::bpeByScore(std::string_view text, std::vector<int32_t> &out) const {
  struct Sym {
    int prev, next;
    size_t at, n;
  };
  std::vector<Sym> sym;
  for (size_t i = 0; i < text.size();) {
    size_t n = std::min(utf8Length(static_cast<unsigned char>(text[i])), text.size() - i);
    sym.push_back({int(sym.size()) - 1, int(sym.size()) + 1, i, n});
    i += n;
  }
  if (sym.empty())
    return;
  sym.back().next = -1;
  struct Bigram {
    int left, right;
    float score;
    size_t n;
    bool operator<(const Bigram &o) const { return score < o.score || (score == o.score && left > o.left); }
  };
  std::priority_queue<Bigram> queue;
  auto tryAdd = [&](int l, int r) {
    if (l < 0 || r < 0)
      return;
    std::string_view piece = text.substr(sym[size_t(l)].at, sym[size_t(l)].n + sym[size_t(r)].n);
    auto it = vocab_.find(std::string(piece));
    if (it != vocab_.end())
      queue.push({l, r, desc_.scores[size_t(it->second)], piece.size()});
  };
  for (size_t i = 1; i < sym.size(); ++i)
    tryAdd(int(i) - 1, int(i));
  while (!queue.empty()) {
    Bigram b = queue.top();
    queue.pop();
    Sym &l = sym[size_t(b.left)], &r = sym[size_t(b.right)];
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.n)
      continue; // stale: one side was merged since
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0)
      sym[size_t(r.next)].prev = b.left;
    tryAdd(l.prev, b.left);
    tryAdd(b.left, l.next);
  }
  for (int i = 0; i >= 0; i = sym[size_t(i)].next) {
    std::string_view piece = text.substr(sym[size_t(i)].at, sym[size_t(i)].n);
    auto it = vocab_.find(std::string(piece));
    if (it != vocab_.end())
      out.push_back(it->second);
    else
      byteFallback(piece, out);
  }
}

// SentencePiece pieces see spaces as "▁" and, with add_space_prefix, start
// with one: at the start of the text and after every special token (as the
// Prepend normalizer and llama.cpp do), or only at the very start
// ("sentencepiece-first", Metaspace's prepend_scheme "first").
void Tokenizer::encodeText(std::string_view text, bool atStart, std::vector<int32_t> &out) const {
  if (text.empty())
    return;
  if (!spm_) {
    for (std::string_view p : preTokenize(pre_, text))
      bpe(p, out);
    return;
  }
  std::string s;
  if (desc_.add_space_prefix && (atStart || desc_.pre != "sentencepiece-first"))
    s += kSpace;
  for (char c : text)
    if (c == ' ')
      s += kSpace;
    else
      s += c;
  if (desc_.merges.empty())
    bpeByScore(s, out);
  else
    bpe(s, out);
}

bool Tokenizer::isControl(int32_t id) const {
  return id >= 0 && size_t(id) < desc_.types.size() && desc_.types[size_t(id)] == 3;
}

void Tokenizer::bpe(std::string_view piece, std::vector<int32_t> &out) const {
  std::string key(piece);
  {
    std::lock_guard lock(cacheMutex_);
    if (auto it = cache_.find(key); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<std::string> sym;
  if (spm_) {
    // Characters; one the vocabulary lacks becomes its byte tokens first.
    for (size_t i = 0; i < piece.size();) {
      size_t n = std::min(utf8Length(static_cast<unsigned char>(piece[i])), piece.size() - i);
      std::string ch(piece.substr(i, n));
      if (vocab_.count(ch) || byteToken_[static_cast<unsigned char>(ch[0])] < 0)
        sym.push_back(std::move(ch));
      else
        for (unsigned char c : ch)
          sym.push_back(desc_.tokens[size_t(byteToken_[c])]);
      i += n;
    }
  } else {
    for (unsigned char c : piece)
      sym.push_back(byteChar_[c]);
  }
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
    if (spm_) {
      byteFallback(s, ids);
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
  std::lock_guard lock(cacheMutex_);
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
  auto flush = [&](size_t end) { encodeText(text.substr(start, end - start), start == 0, out); };
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
  if (matchedAsWhole(type))
    return t;
  std::string out;
  if (spm_) {
    unsigned byte;
    if (type == 6 && t.size() == 6 && std::sscanf(t.c_str(), "<0x%2X>", &byte) == 1)
      return std::string(1, char(byte));
    for (size_t i = 0; i < t.size();)
      if (t.compare(i, kSpace.size(), kSpace) == 0) {
        out += ' ';
        i += kSpace.size();
      } else {
        out += t[i++];
      }
    return out;
  }
  for (const CodeUnit &c : decodeUtf8(t)) {
    auto b = charByte_.find(c.cp);
    if (b != charByte_.end())
      out += char(b->second);
  }
  return out;
}

} // namespace mcc
