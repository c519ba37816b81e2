// Tokens -> Program. The grammar and operator precedence follow
// @huggingface/jinja (itself modelled on Jinja2), from loosest to tightest:
//   a if c else b | or | and | not | in, not in, == != < > <= >= |
//   + - ~ | * / // % | ** | is tests | filters | unary +/- | calls, .attr, [index], [a:b:c]
// Statements: set (also block form and tuple/namespace targets), if/elif/else,
// for (with "if" filter and else), macro, call, filter, break, continue.
#pragma once

#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/limits.h"
#include "tokenizer/jinja/source.h"

namespace nibble::tokenizer::jinja {

// Throws nibble::Error with the line and column of the offending token.
Program parse(const Source& source, std::vector<Token> tokens);

}  // namespace nibble::tokenizer::jinja
