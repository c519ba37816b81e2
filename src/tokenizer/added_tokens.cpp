#include "tokenizer/added_tokens.h"

#include <algorithm>

#include "tokenizer/unicode_regex.h"
#include "tokenizer/utf8.h"

namespace nibble::tokenizer {

namespace {

// Start of the character that ends just before `pos`.
size_t previous_char(std::string_view s, size_t pos) {
  size_t p = pos - 1;
  while (p > 0 && (static_cast<unsigned char>(s[p]) & 0xC0) == 0x80 && pos - p < 4) --p;
  return p;
}

bool is_word_char_at(std::string_view s, size_t pos) {
  static const UnicodeRegex word(R"([\p{L}\p{N}_])", "added token single_word");
  return word.matches_at(s, pos);
}

bool whitespace_at(std::string_view s, size_t pos, size_t* len) {
  const Utf8Char c = decode_utf8(s, pos);
  *len = c.len;
  return c.valid && is_unicode_whitespace(c.cp);
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens) : tokens_(std::move(tokens)) {
  tokens_.erase(std::remove_if(tokens_.begin(), tokens_.end(), [](const AddedToken& t) { return t.content.empty(); }),
                tokens_.end());
  for (size_t i = 0; i < tokens_.size(); ++i)
    by_first_byte_[static_cast<uint8_t>(tokens_[i].content[0])].push_back(static_cast<int>(i));
  for (auto& list : by_first_byte_)
    std::stable_sort(list.begin(), list.end(),
                     [&](int a, int b) { return tokens_[a].content.size() > tokens_[b].content.size(); });
}

void AddedTokenMatcher::split(std::string_view text, bool at_start, std::vector<TextSegment>& out) const {
  size_t plain_begin = 0;  // start of the text not yet emitted
  size_t pos = 0;
  const auto emit_plain = [&](size_t end) {
    if (end > plain_begin)
      out.push_back({std::string(text.substr(plain_begin, end - plain_begin)), -1, at_start && plain_begin == 0});
  };
  while (pos < text.size()) {
    const AddedToken* match = nullptr;
    for (int idx : by_first_byte_[static_cast<uint8_t>(text[pos])]) {
      const AddedToken& t = tokens_[idx];
      if (text.compare(pos, t.content.size(), t.content) == 0) {
        match = &t;
        break;
      }
    }
    if (!match) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + match->content.size();
    pos = stop;  // like an Aho-Corasick scan, a rejected match is not retried inside itself
    if (match->single_word) {
      const bool word_before = start > 0 && is_word_char_at(text, previous_char(text, start));
      const bool word_after = stop < text.size() && is_word_char_at(text, stop);
      if (word_before || word_after) continue;
    }
    if (match->lstrip) {
      while (start > plain_begin) {
        const size_t p = previous_char(text, start);
        size_t len;
        if (!whitespace_at(text, p, &len) || p + len != start) break;
        start = p;
      }
    }
    if (match->rstrip) {
      size_t len;
      while (stop < text.size() && whitespace_at(text, stop, &len)) stop += len;
      pos = stop;
    }
    emit_plain(start);
    out.push_back({std::string(text.substr(start, stop - start)), match->id, false});
    plain_begin = stop;
  }
  emit_plain(text.size());
}

}  // namespace nibble::tokenizer
