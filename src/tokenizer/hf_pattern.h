// The {"String": "..."} or {"Regex": "..."} pattern that tokenizer.json's
// Split pre-tokenizer and Replace normalizer/decoder use.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/unicode_regex.h"

namespace nibble::tokenizer {

class HfPattern {
 public:
  HfPattern(const nlohmann::json& pattern, const std::string& where);

  // [begin, end) byte ranges of the non-overlapping matches, left to right.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
  // `text` with every match replaced by `content`.
  std::string replace_all(std::string_view text, std::string_view content) const;

 private:
  std::string literal_;                  // a String pattern
  std::unique_ptr<UnicodeRegex> regex_;  // a Regex pattern
};

}  // namespace nibble::tokenizer
