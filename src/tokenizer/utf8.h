// UTF-8 helpers for the tokenizers. Text reaching a tokenizer is not
// guaranteed to be valid UTF-8; an invalid byte decodes as itself, alone,
// flagged so callers can carry it through untouched.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nibble::tokenizer {

struct Utf8Char {
  uint32_t cp;     // the code point, or the raw byte when !valid
  uint32_t len;    // bytes consumed (1..4)
  bool valid;
};

// Decodes the character starting at s[i] (i < s.size()).
inline Utf8Char decode_utf8(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return {c, 1, true};
  uint32_t need, cp, min;
  if ((c & 0xE0) == 0xC0) need = 1, cp = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0) need = 2, cp = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0) need = 3, cp = c & 0x07, min = 0x10000;
  else return {c, 1, false};
  if (i + need >= s.size()) return {c, 1, false};  // truncated
  for (uint32_t k = 1; k <= need; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return {c, 1, false};
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return {c, 1, false};
  return {cp, need + 1, true};
}

inline void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

inline std::string utf8(uint32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

// Unicode White_Space (what Rust's char::is_whitespace tests).
inline bool is_unicode_whitespace(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

}  // namespace nibble::tokenizer
