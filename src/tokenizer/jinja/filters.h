// Jinja filters: the right-hand side of `x | trim`, `tools | tojson(indent=4)`,
// `messages | selectattr("role", "equalto", "user") | list`, ...
//
// Supported: safe, e/escape, tojson, string, list, first, last, length/count,
// reverse, sort, unique, join, upper, lower, title, capitalize, trim, indent,
// replace, int, float, abs, round, bool, items, dictsort, default/d,
// selectattr, rejectattr, select, reject, map, min, max, sum.
#pragma once

#include <string_view>

#include "tokenizer/jinja/value.h"

namespace nibble::tokenizer::jinja {

// Throws EvalFailure for an unknown filter or an operand it does not take.
Value apply_filter(std::string_view name, const Value& operand, const CallArgs& args);

}  // namespace nibble::tokenizer::jinja
