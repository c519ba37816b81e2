// A compiled PCRE2 pattern in UTF + Unicode-property mode (\p{L} and \w
// follow Unicode), JIT-compiled where the platform allows. Tokenizer files
// write their split patterns for Oniguruma; PCRE2 reads the constructs they
// use the same way, once \s is rewritten as Unicode White_Space (PCRE2 adds
// U+180E). Text that is not valid UTF-8 is allowed: invalid bytes never match.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nibble::tokenizer {

class UnicodeRegex {
 public:
  // Throws Error naming `where` and the pattern if it does not compile.
  UnicodeRegex(const std::string& pattern, const std::string& where);
  ~UnicodeRegex();
  UnicodeRegex(const UnicodeRegex&) = delete;
  UnicodeRegex& operator=(const UnicodeRegex&) = delete;

  // [begin, end) byte ranges of the successive non-overlapping matches,
  // searching left to right; an empty match moves the search on by one character.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
  // Whether the pattern matches at exactly `pos`.
  bool matches_at(std::string_view text, size_t pos) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
};

}  // namespace nibble::tokenizer
