#include "tokenizer/hf_pattern.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace nibble::tokenizer {

HfPattern::HfPattern(const nlohmann::json& pattern, const std::string& where) {
  if (pattern.is_object() && pattern.contains("String") && pattern["String"].is_string()) {
    literal_ = pattern["String"].get<std::string>();
    NIBBLE_CHECK(!literal_.empty(), where, ": empty String pattern");
  } else if (pattern.is_object() && pattern.contains("Regex") && pattern["Regex"].is_string()) {
    regex_ = std::make_unique<UnicodeRegex>(pattern["Regex"].get<std::string>(), where);
  } else {
    fail(where, ": pattern must be {\"String\": ...} or {\"Regex\": ...}, found ", pattern.dump());
  }
}

std::vector<std::pair<size_t, size_t>> HfPattern::find_all(std::string_view text) const {
  if (regex_) return regex_->find_all(text);
  std::vector<std::pair<size_t, size_t>> found;
  for (size_t pos = text.find(literal_); pos != std::string_view::npos; pos = text.find(literal_, pos)) {
    found.emplace_back(pos, pos + literal_.size());
    pos += literal_.size();
  }
  return found;
}

std::string HfPattern::replace_all(std::string_view text, std::string_view content) const {
  std::string out;
  size_t last = 0;
  for (const auto& [begin, end] : find_all(text)) {
    out.append(text.substr(last, begin - last));
    out.append(content);
    last = end;
  }
  out.append(text.substr(last));
  return out;
}

}  // namespace nibble::tokenizer
