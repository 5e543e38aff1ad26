#include "runtime/tokenizer/PreTokenizer.h"
#include "format/Error.h"
#include "runtime/tokenizer/Unicode.h"

namespace mcc {

namespace {

const char *kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char *kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct Splitter {
  const std::vector<CodeUnit> &u;
  size_t n;
  bool caseless;
  int maxDigits; // 0: unbounded run (Gpt2), else at most this many

  uint32_t at(size_t i) const { return i < n ? u[i].cp : 0xFFFFFFFF; }
  bool L(size_t i) const { return i < n && isLetter(u[i].cp); }
  bool N(size_t i) const { return i < n && isNumber(u[i].cp); }
  bool S(size_t i) const { return i < n && isSpace(u[i].cp); }
  bool other(size_t i) const { return i < n && !isSpace(u[i].cp) && !isLetter(u[i].cp) && !isNumber(u[i].cp); }
  bool nl(size_t i) const { return at(i) == '\r' || at(i) == '\n'; }
  uint32_t lower(size_t i) const {
    uint32_t c = at(i);
    return caseless && c >= 'A' && c <= 'Z' ? c + 32 : c;
  }

  size_t contraction(size_t i) const {
    if (at(i) != '\'')
      return 0;
    uint32_t a = lower(i + 1), b = lower(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
      return i + 3;
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
      return i + 2;
    return 0;
  }

  // \s+(?!\S) then \s+: a run of spaces leaves its last one to the next
  // piece when a non-space follows.
  size_t spaces(size_t i) const {
    size_t j = i;
    while (S(j))
      ++j;
    if (j == n || j - i == 1)
      return j;
    return j - 1;
  }

  size_t gpt2(size_t i) const {
    if (size_t e = contraction(i))
      return e;
    size_t j = at(i) == ' ' ? i + 1 : i;
    if (L(j)) {
      while (L(j)) ++j;
      return j;
    }
    if (N(j)) {
      while (N(j)) ++j;
      return j;
    }
    if (other(j)) {
      while (other(j)) ++j;
      return j;
    }
    if (S(i))
      return spaces(i);
    return i + 1;
  }

  size_t qwen(size_t i) const {
    if (size_t e = contraction(i))
      return e;
    if (!nl(i) && !L(i) && !N(i) && i < n && L(i + 1)) {
      size_t j = i + 1;
      while (L(j)) ++j;
      return j;
    }
    if (L(i)) {
      size_t j = i;
      while (L(j)) ++j;
      return j;
    }
    if (N(i)) {
      size_t j = i;
      while (N(j) && int(j - i) < maxDigits) ++j;
      return j;
    }
    size_t j = at(i) == ' ' ? i + 1 : i;
    if (other(j)) {
      while (other(j)) ++j;
      while (nl(j)) ++j;
      return j;
    }
    if (S(i)) {
      size_t e = i, lastNl = SIZE_MAX;
      while (S(e)) {
        if (nl(e))
          lastNl = e;
        ++e;
      }
      if (lastNl != SIZE_MAX)
        return lastNl + 1;
      return spaces(i);
    }
    return i + 1;
  }
};

void split(PreTokenizer p, std::string_view text, std::vector<std::string_view> &out) {
  if (text.empty())
    return;
  std::vector<CodeUnit> u = decodeUtf8(text);
  Splitter s{u, u.size(), p != PreTokenizer::Gpt2, p == PreTokenizer::Llama3 ? 3 : 1};
  size_t i = 0;
  while (i < u.size()) {
    size_t e = p == PreTokenizer::Gpt2 ? s.gpt2(i) : s.qwen(i);
    size_t b0 = u[i].offset, b1 = e < u.size() ? u[e].offset : text.size();
    out.push_back(text.substr(b0, b1 - b0));
    i = e;
  }
}

} // namespace

PreTokenizer preTokenizerFor(const TokenizerDesc &t) {
  if (!t.pre_regexes.empty()) {
    const auto &r = t.pre_regexes;
    if (r.size() == 1 && r[0] == "<gpt2>")
      return PreTokenizer::Gpt2;
    if (r.size() == 2 && r[0] == "<digits-individual>" && r[1] == "<gpt2>")
      return PreTokenizer::SmolLM;
    if (r[0] == kQwen2Regex)
      return PreTokenizer::Qwen2;
    if (r[0] == kLlama3Regex)
      return PreTokenizer::Llama3;
    throw Error(cat("tokenizer.json: pre-tokenizer regex '", r[0], "' is not one mcc implements"));
  }
  if (t.pre == "default" || t.pre == "gpt2" || t.pre == "gpt-2")
    return PreTokenizer::Gpt2;
  if (t.pre == "smollm")
    return PreTokenizer::SmolLM;
  if (t.pre == "qwen2")
    return PreTokenizer::Qwen2;
  if (t.pre == "llama-bpe" || t.pre == "llama3")
    return PreTokenizer::Llama3;
  throw Error(cat("tokenizer pre-tokenizer '", t.pre, "' is not supported (gpt2, smollm, qwen2, llama-bpe)"));
}

const char *preTokenizerName(PreTokenizer p) {
  switch (p) {
  case PreTokenizer::Gpt2: return "gpt2";
  case PreTokenizer::SmolLM: return "smollm";
  case PreTokenizer::Qwen2: return "qwen2";
  case PreTokenizer::Llama3: return "llama3";
  }
  return "?";
}

std::vector<std::string_view> preTokenize(PreTokenizer p, std::string_view text) {
  std::vector<std::string_view> out;
  if (p != PreTokenizer::SmolLM) {
    split(p, text, out);
    return out;
  }
  // SmolLM isolates every digit first, then applies the GPT-2 rules to the rest.
  std::vector<CodeUnit> u = decodeUtf8(text);
  size_t start = 0;
  for (const CodeUnit &c : u) {
    if (!isNumber(c.cp))
      continue;
    split(PreTokenizer::Gpt2, text.substr(start, c.offset - start), out);
    out.push_back(text.substr(c.offset, c.length));
    start = c.offset + c.length;
  }
  split(PreTokenizer::Gpt2, text.substr(start), out);
  return out;
}

} // namespace mcc
