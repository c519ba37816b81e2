// A parsed Jinja template, ready to render many times (from many threads).
//
// This is a subset of Jinja2 sized for chat templates. Where Python Jinja2
// and @huggingface/jinja (the Hub's renderer) disagree, output formatting
// follows @huggingface/jinja (none prints as "", booleans as true/false,
// lists and dicts as JSON, == compares like JavaScript); string methods and
// filters follow Python where the JS engine ignores an argument or lacks the
// operation; operations the JS engine refuses but Jinja2 allows (iterating an
// undefined value, "~" with undefined) work as in Jinja2.
#pragma once

#include <memory>
#include <string>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/source.h"
#include "tokenizer/jinja/value.h"

namespace nibble::tokenizer::jinja {

class Template {
 public:
  // Parses `text`; throws nibble::Error with the line and column of a syntax error.
  explicit Template(std::string text);

  // Renders with `variables` as the top-level names. Throws nibble::Error on
  // a runtime error (naming line and column), TemplateRaisedError for the
  // template's raise_exception().
  std::string render(const Object& variables) const;

  const std::string& text() const { return source_->original(); }

 private:
  std::shared_ptr<const Source> source_;
  std::shared_ptr<const Program> program_;
};

}  // namespace nibble::tokenizer::jinja
