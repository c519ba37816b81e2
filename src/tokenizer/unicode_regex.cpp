#include "tokenizer/unicode_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <memory>

#include "core/error.h"

namespace nibble::tokenizer {

namespace {

pcre2_code* as_code(void* p) { return static_cast<pcre2_code*>(p); }

struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};
using MatchData = std::unique_ptr<pcre2_match_data, MatchDataDeleter>;

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof buf);
  return reinterpret_cast<const char*>(buf);
}

// Unicode White_Space, the set Oniguruma's \s matches. PCRE2's \s (with UCP)
// also matches U+180E, which stopped being a space in Unicode 6.3.
constexpr const char* kWhiteSpaceItems =
    R"(\t-\r\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

// Rewrites \s (anywhere) and \S (outside character classes) as explicit
// White_Space classes, so that splitting agrees with the tokenizers library.
std::string with_onig_whitespace(const std::string& pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[++i];
      if (e == 's') out += in_class ? cat(kWhiteSpaceItems) : cat("[", kWhiteSpaceItems, "]");
      else if (e == 'S' && !in_class) out += cat("[^", kWhiteSpaceItems, "]");
      else out += {c, e};
      continue;
    }
    out += c;
    if (!in_class && c == '[') {
      in_class = true;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];  // a leading ] is literal
    } else if (in_class && c == '[' && i + 1 < pattern.size() && pattern[i + 1] == ':') {
      const size_t end = pattern.find(":]", i + 2);  // a POSIX class such as [:alpha:]
      if (end != std::string::npos) {
        out += pattern.substr(i + 1, end + 1 - i);
        i = end + 1;
      }
    } else if (in_class && c == ']') {
      in_class = false;
    }
  }
  return out;
}

size_t utf8_char_length(std::string_view text, size_t pos) {
  size_t n = 1;
  while (pos + n < text.size() && (static_cast<unsigned char>(text[pos + n]) & 0xC0) == 0x80) ++n;
  return n;
}

}  // namespace

UnicodeRegex::UnicodeRegex(const std::string& pattern, const std::string& where) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  const std::string translated = with_onig_whitespace(pattern);
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
                        PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
  NIBBLE_CHECK(code_, where, ": regex /", pattern, "/ does not compile at offset ", offset, ": ",
               pcre2_message(error));
  pcre2_jit_compile(as_code(code_), PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is unavailable
}

UnicodeRegex::~UnicodeRegex() { pcre2_code_free(as_code(code_)); }

std::vector<std::pair<size_t, size_t>> UnicodeRegex::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> found;
  MatchData md(pcre2_match_data_create_from_pattern(as_code(code_), nullptr));
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos <= text.size()) {
    const int rc = pcre2_match(as_code(code_), subject, text.size(), pos, 0, md.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    NIBBLE_CHECK(rc >= 0, "regex /", pattern_, "/: matching failed: ", pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    const size_t begin = ov[0], end = ov[1];
    if (end > begin) {
      found.emplace_back(begin, end);
      pos = end;
    } else {
      if (begin >= text.size()) break;
      pos = begin + utf8_char_length(text, begin);
    }
  }
  return found;
}

bool UnicodeRegex::matches_at(std::string_view text, size_t pos) const {
  MatchData md(pcre2_match_data_create_from_pattern(as_code(code_), nullptr));
  const int rc = pcre2_match(as_code(code_), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), pos,
                             PCRE2_ANCHORED, md.get(), nullptr);
  return rc >= 0;
}

}  // namespace nibble::tokenizer
