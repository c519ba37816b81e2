#include "tokenizer/jinja/template.h"

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/parser.h"

namespace nibble::tokenizer::jinja {

Template::Template(std::string text) {
  auto source = std::make_shared<Source>(std::move(text));
  program_ = std::make_shared<Program>(parse(*source, tokenize(*source)));
  source_ = std::move(source);
}

std::string Template::render(const Object& variables) const { return jinja::render(*program_, *source_, variables); }

}  // namespace nibble::tokenizer::jinja
