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

std::vector<CodeUnit> decodeUtf8(std::string_view s) {
  std::vector<CodeUnit> out;
  out.reserve(s.size());
  const auto *p = reinterpret_cast<const unsigned char *>(s.data());
  size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned char c = p[i];
    uint32_t cp = 0, len = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c >> 5) == 6 && i + 1 < n && (p[i + 1] >> 6) == 2) {
      cp = (c & 0x1F) << 6 | (p[i + 1] & 0x3F), len = 2;
      if (cp < 0x80) cp = 0xFFFD, len = 1;
    } else if ((c >> 4) == 14 && i + 2 < n && (p[i + 1] >> 6) == 2 && (p[i + 2] >> 6) == 2) {
      cp = (c & 0x0F) << 12 | (p[i + 1] & 0x3F) << 6 | (p[i + 2] & 0x3F), len = 3;
      if (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD, len = 1;
    } else if ((c >> 3) == 30 && i + 3 < n && (p[i + 1] >> 6) == 2 && (p[i + 2] >> 6) == 2 && (p[i + 3] >> 6) == 2) {
      cp = (c & 0x07) << 18 | (p[i + 1] & 0x3F) << 12 | (p[i + 2] & 0x3F) << 6 | (p[i + 3] & 0x3F), len = 4;
      if (cp < 0x10000 || cp > 0x10FFFF) cp = 0xFFFD, len = 1;
    } else {
      cp = 0xFFFD;
    }
    out.push_back({cp, uint32_t(i), len});
    i += len;
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
