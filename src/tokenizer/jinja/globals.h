// The names every template sees before its variables: true/false/none (and
// True/False/None), raise_exception(message), range([start,] stop[, step]),
// namespace(dict or pairs, **attrs), dict(**items), strftime_now(format) (the
// local time, formatted like Python's strftime).
#pragma once

#include <vector>

#include "tokenizer/jinja/value.h"

namespace nibble::tokenizer::jinja {

// Each namespace() created is appended to `namespaces` (which must outlive
// the render), so the interpreter can break reference cycles afterwards.
Object make_globals(std::vector<Value>* namespaces);

}  // namespace nibble::tokenizer::jinja
