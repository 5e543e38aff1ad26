// The few Unicode facts the pre-tokenizers need: UTF-8 decoding that never
// fails (invalid bytes become U+FFFD-like single units, as the reference
// tokenizers treat them) and the regex classes \p{L}, \p{N}, \s.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mcc {

struct CodeUnit {
  uint32_t cp;      // code point (0xFFFD for an invalid byte)
  uint32_t offset;  // byte offset in the text
  uint32_t length;  // bytes it takes
};

std::vector<CodeUnit> decodeUtf8(std::string_view text);
void appendUtf8(std::string &out, uint32_t cp);
// Valid UTF-8: each invalid subpart replaced by U+FFFD.
std::string sanitizeUtf8(std::string_view s);

bool isLetter(uint32_t cp);
bool isNumber(uint32_t cp);
bool isSpace(uint32_t cp); // the Unicode White_Space property, as regex \s

} // namespace mcc
