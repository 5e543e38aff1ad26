#include "runtime/tokenizer/Unicode.h"

#include <algorithm>

namespace mcc {

namespace {
struct CodeRange {
  uint32_t lo, hi;
};
#include "runtime/tokenizer/UnicodeTables.inc"

template <size_t N> bool inRanges(const CodeRange (&r)[N], uint32_t cp) {
  auto it = std::upper_bound(std::begin(r), std::end(r), cp, [](uint32_t c, const CodeRange &x) { return c < x.lo; });
  return it != std::begin(r) && cp <= (it - 1)->hi;
}
} // namespace

bool isLetter(uint32_t cp) { return cp < 0x80 ? ((cp | 32) - 'a' < 26) : inRanges(kLetters, cp); }
bool isNumber(uint32_t cp) { return cp < 0x80 ? (cp - '0' < 10) : inRanges(kNumbers, cp); }

bool isSpace(uint32_t cp) {
  switch (cp) {
  case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
  case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
    return true;
  default:
    return cp >= 0x2000 && cp <= 0x200A;
  }
}

// Invalid input follows the Unicode "maximal subpart" practice (as Python's
// errors="replace" does): a valid lead byte with some valid continuation
// bytes and then a bad one is ONE replacement unit, not one per byte.
std::vector<CodeUnit> decodeUtf8(std::string_view s) {
  std::vector<CodeUnit> out;
  out.reserve(s.size());
  const auto *p = reinterpret_cast<const unsigned char *>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (c < 0x80) {
      out.push_back({c, uint32_t(i), 1});
      ++i;
      continue;
    }
    int len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (len == 0) {
      out.push_back({0xFFFD, uint32_t(i), 1});
      ++i;
      continue;
    }
    // The second byte's valid range depends on the lead (no overlongs, no surrogates, <= U+10FFFF).
    unsigned char lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    uint32_t cp = c & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
    int k = 1;
    for (; k < len && i + size_t(k) < n; ++k) {
      unsigned char b = p[i + size_t(k)];
      if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80)
        break;
      cp = cp << 6 | (b & 0x3F);
    }
    if (k == len)
      out.push_back({cp, uint32_t(i), uint32_t(len)});
    else
      out.push_back({0xFFFD, uint32_t(i), uint32_t(k)});
    i += size_t(k);
  }
  return out;
}

std::string sanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (const CodeUnit &u : decodeUtf8(s)) {
    if (u.cp == 0xFFFD && !(u.length == 3 && s.compare(u.offset, 3, "\xEF\xBF\xBD") == 0))
      out += "\xEF\xBF\xBD";
    else
      out.append(s.substr(u.offset, u.length));
  }
  return out;
}

void appendUtf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | cp >> 6);
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | cp >> 12);
    out += char(0x80 | (cp >> 6 & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | cp >> 18);
    out += char(0x80 | (cp >> 12 & 0x3F));
    out += char(0x80 | (cp >> 6 & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

} // namespace mcc
