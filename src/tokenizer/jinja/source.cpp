#include "tokenizer/jinja/source.h"

#include "core/error.h"
#include "tokenizer/jinja/limits.h"
#include "tokenizer/jinja/text.h"

namespace nibble::tokenizer::jinja {

namespace {

// Text plus, for each byte, its offset in the original template.
struct Mapped {
  std::string text;
  std::vector<uint32_t> origin;  // one per byte of text, plus the end
  void push(char c, uint32_t from) {
    text += c;
    origin.push_back(from);
  }
};

// Whether position i of `s` starts a line (JavaScript's multiline ^: after
// \n, \r, U+2028 or U+2029).
bool at_line_start(const std::string& s, size_t i) {
  if (i == 0) return true;
  const char p = s[i - 1];
  if (p == '\n' || p == '\r') return true;
  return i >= 3 && static_cast<unsigned char>(s[i - 3]) == 0xE2 && static_cast<unsigned char>(s[i - 2]) == 0x80 &&
         (static_cast<unsigned char>(s[i - 1]) == 0xA8 || static_cast<unsigned char>(s[i - 1]) == 0xA9);
}

// lstrip_blocks: ^[ \t]*({[#%-]) -> $1
Mapped lstrip_blocks(const Mapped& in) {
  Mapped out;
  const std::string& s = in.text;
  for (size_t i = 0; i < s.size();) {
    if (at_line_start(s, i)) {
      size_t j = i;
      while (j < s.size() && (s[j] == ' ' || s[j] == '\t')) ++j;
      if (j > i && j + 1 < s.size() && s[j] == '{' && (s[j + 1] == '#' || s[j + 1] == '%' || s[j + 1] == '-')) {
        i = j;  // drop the indentation before the block tag
      }
    }
    out.push(s[i], in.origin[i]);
    ++i;
  }
  out.origin.push_back(in.origin.back());
  return out;
}

// trim_blocks: ([#%-]})\n -> $1
Mapped trim_blocks(const Mapped& in) {
  Mapped out;
  const std::string& s = in.text;
  for (size_t i = 0; i < s.size();) {
    if (i + 2 < s.size() && (s[i] == '#' || s[i] == '%' || s[i] == '-') && s[i + 1] == '}' && s[i + 2] == '\n') {
      out.push(s[i], in.origin[i]);
      out.push(s[i + 1], in.origin[i + 1]);
      i += 3;
      continue;
    }
    out.push(s[i], in.origin[i]);
    ++i;
  }
  out.origin.push_back(in.origin.back());
  return out;
}

// Matches {%(-?)\s*(?:end)?generation\s*(-?)%} at `at`; returns the end offset
// (0 if no match) and whether each side carries "-".
size_t match_generation_tag(const std::string& s, size_t at, bool& strip_before, bool& strip_after) {
  if (s.compare(at, 2, "{%") != 0) return 0;
  size_t i = at + 2;
  strip_before = i < s.size() && s[i] == '-';
  if (strip_before) ++i;
  auto skip_space = [&] {
    while (i < s.size()) {
      size_t j = i;
      if (!is_space(next_code_point(s, j))) break;
      i = j;
    }
  };
  skip_space();
  if (s.compare(i, 3, "end") == 0 && s.compare(i + 3, 10, "generation") == 0) i += 3;
  if (s.compare(i, 10, "generation") != 0) return 0;
  i += 10;
  skip_space();
  strip_after = i < s.size() && s[i] == '-';
  if (strip_after) ++i;
  if (s.compare(i, 2, "%}") != 0) return 0;
  return i + 2;
}

// (\s*){%(-?)\s*(?:end)?generation\s*(-?)%}(\s*) -> (lstrip ? "" : $1) + (rstrip ? "" : $4)
Mapped remove_generation_tags(const Mapped& in) {
  const std::string& s = in.text;
  if (s.find("generation") == std::string::npos) return in;
  Mapped out;
  size_t copied = 0;     // s[0, copied) has been decided
  size_t run_start = 0;  // start of the whitespace run ending at i (== i if none)
  for (size_t i = 0; i < s.size();) {
    bool strip_before = false, strip_after = false;
    const size_t tag_end = s[i] == '{' ? match_generation_tag(s, i, strip_before, strip_after) : 0;
    if (tag_end != 0) {
      size_t after_end = tag_end;
      while (after_end < s.size()) {
        size_t j = after_end;
        if (!is_space(next_code_point(s, j))) break;
        after_end = j;
      }
      for (size_t k = copied; k < run_start; ++k) out.push(s[k], in.origin[k]);
      if (!strip_before)
        for (size_t k = run_start; k < i; ++k) out.push(s[k], in.origin[k]);
      if (!strip_after)
        for (size_t k = tag_end; k < after_end; ++k) out.push(s[k], in.origin[k]);
      copied = i = run_start = after_end;
      continue;
    }
    size_t j = i;
    const bool space = is_space(next_code_point(s, j));
    i = j;
    if (!space) run_start = i;
  }
  for (size_t k = copied; k < s.size(); ++k) out.push(s[k], in.origin[k]);
  out.origin.push_back(in.origin.back());
  return out;
}

}  // namespace

Source::Source(std::string original) : original_(std::move(original)) {
  NIBBLE_CHECK(original_.size() <= kMaxTemplateBytes, "chat template is ", original_.size(), " bytes; at most ",
               kMaxTemplateBytes, " are accepted");
  Mapped m;
  size_t n = original_.size();
  if (n > 0 && original_[n - 1] == '\n') --n;  // a single trailing newline is dropped
  m.text = original_.substr(0, n);
  m.origin.resize(n + 1);
  for (size_t i = 0; i <= n; ++i) m.origin[i] = static_cast<uint32_t>(i);
  m = remove_generation_tags(trim_blocks(lstrip_blocks(m)));
  text_ = std::move(m.text);
  origin_ = std::move(m.origin);
}

std::string Source::where(size_t offset) const {
  if (offset > original_.size()) offset = original_.size();
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (original_[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  const size_t column = count_code_points(std::string_view(original_).substr(line_start, offset - line_start)) + 1;
  return cat("line ", line, ", column ", column);
}

}  // namespace nibble::tokenizer::jinja
