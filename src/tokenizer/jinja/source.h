// A template's text prepared for the lexer, with a map back to the original
// so errors can name a line and column of what the user wrote.
//
// Preparation is the whitespace handling Hugging Face applies to chat
// templates (transformers renders them with trim_blocks=True and
// lstrip_blocks=True; @huggingface/jinja rewrites the text the same way
// before lexing, and we follow its rewrite byte for byte):
//   - one trailing newline of the template is dropped;
//   - lstrip_blocks: spaces and tabs from a line start up to "{%", "{#" or
//     "{-" are removed;
//   - trim_blocks: the newline right after "%}", "#}" or "-}" is removed;
//   - transformers' {% generation %} / {% endgeneration %} markers are
//     removed, together with surrounding whitespace unless they carry "-".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nibble::tokenizer::jinja {

class Source {
 public:
  explicit Source(std::string original);

  const std::string& text() const { return text_; }          // what the lexer reads
  const std::string& original() const { return original_; }  // what the user wrote
  // Offset in original() of byte `i` of text(); i == text().size() is the end.
  size_t origin(size_t i) const { return origin_[i]; }
  // "line L, column C" (1-based; columns count code points) of an original offset.
  std::string where(size_t original_offset) const;

 private:
  std::string original_;
  std::string text_;
  std::vector<uint32_t> origin_;
};

}  // namespace nibble::tokenizer::jinja
