// Built-in attributes of values: the Python string methods chat templates
// call ("x".strip(), .split(), .startswith(), .replace(), ...), dict methods
// (.get(), .items(), .keys(), .values()) and the `length` property that
// @huggingface/jinja gives strings and lists.
//
// Where @huggingface/jinja ignores an argument Python honours (strip("\n")
// strips only newlines in Python; the JS engine strips all whitespace),
// nibble follows Python, as transformers and vLLM render with Python Jinja2.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tokenizer/jinja/value.h"

namespace nibble::tokenizer::jinja {

// The attribute `name` of `receiver` (a bound callable, or a property value);
// undefined when there is none.
Value builtin_attribute(const Value& receiver, std::string_view name);

// Python's str.replace(from, to, count); count < 0 replaces every match, and an
// empty `from` inserts `to` around every code point.
std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count);

}  // namespace nibble::tokenizer::jinja
