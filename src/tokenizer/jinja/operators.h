// The operators of Jinja expressions on values: ==, !=, in, ~, + - * / // %
// **, comparisons, subscripts (x.attr, x[key]) and slices (x[a:b:c]).
// "and"/"or" short-circuit, so the interpreter evaluates those itself.
//
// Semantics follow @huggingface/jinja where it defines them (== compares like
// JavaScript, `x in list` by value for strings/numbers and by identity for
// dicts, string + anything concatenates, x.missing is undefined) and Jinja2
// where it does not (~ prints none/undefined as "", strings compare with <,
// % and // round toward negative infinity).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tokenizer/jinja/value.h"

namespace nibble::tokenizer::jinja {

// `left op right` for every binary operator except and/or. Throws EvalFailure.
Value binary_operation(const std::string& op, const Value& left, const Value& right);

// object[key] and object.key: dict entries (then dict methods), list and
// string items (negative indexes count from the end), string methods and the
// `length` property; undefined where there is nothing.
Value subscript(const Value& object, const Value& key);

// object[start:stop:step] on a list or string (Python slicing). Bounds are
// integers, or none/undefined for the default.
Value slice(const Value& object, const Value& start, const Value& stop, const Value& step);

}  // namespace nibble::tokenizer::jinja
