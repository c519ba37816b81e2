// tokenizer.json "added_tokens" (special tokens like <|begin_of_text|> and
// plain added words): found in the input before normalization and
// pre-tokenization, leftmost first and longest at a position, as tokenizers
// does. lstrip/rstrip absorb the whitespace beside a match; single_word
// matches only between non-word characters.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace nibble::tokenizer {

struct AddedToken {
  int id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;  // matched in normalized text instead of the raw input
  bool single_word = false;
};

// A stretch of input: plain text (id < 0) or one added token.
struct TextSegment {
  std::string text;
  int id = -1;
  bool at_start = false;  // plain text beginning at offset 0 of the original input
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);

  bool empty() const { return tokens_.empty(); }
  // Appends the segments of `text`; `at_start` says whether `text` begins the input.
  void split(std::string_view text, bool at_start, std::vector<TextSegment>& out) const;

 private:
  std::vector<AddedToken> tokens_;
  std::array<std::vector<int>, 256> by_first_byte_;  // indices into tokens_, longest content first
};

}  // namespace nibble::tokenizer
