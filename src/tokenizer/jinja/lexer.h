// Splits a prepared template into tokens: text between tags, and the
// operators, names and literals inside {{ }} and {% %}. Comments become
// Comment tokens; "-" whitespace control is applied here ({%- strips the
// whitespace before the tag, -%} the whitespace after it).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tokenizer/jinja/source.h"

namespace nibble::tokenizer::jinja {

enum class TokenType {
  Text,
  Comment,
  OpenStatement,    // {%
  CloseStatement,   // %}
  OpenExpression,   // {{
  CloseExpression,  // }}
  Number,           // 12, 1.5, -3 (a sign glued on where it cannot be binary)
  String,           // value holds the unescaped contents
  Identifier,
  Equals,        // =
  OpenParen,     // (
  CloseParen,    // )
  OpenBracket,   // [
  CloseBracket,  // ]
  OpenBrace,     // {
  CloseBrace,    // }
  Comma,
  Dot,
  Colon,
  Pipe,
  Additive,        // + - ~
  Multiplicative,  // * / // %
  Power,           // **
  Comparison,      // == != < > <= >=
  UnarySign,       // + or - in front of an operand
};

const char* token_type_name(TokenType t);

struct Token {
  TokenType type;
  std::string value;
  size_t pos;  // offset in the original template
};

// Throws nibble::Error naming the line and column on malformed input.
std::vector<Token> tokenize(const Source& source);

}  // namespace nibble::tokenizer::jinja
