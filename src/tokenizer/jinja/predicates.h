// Jinja "tests": the right-hand side of `x is defined`, `x is not none`,
// `n is divisibleby(3)`, and the tests select/reject/selectattr name.
#pragma once

#include <string_view>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace nibble::tokenizer::jinja {

// Throws EvalFailure for an unknown test or a missing argument.
bool apply_test(std::string_view name, const Value& value, const std::vector<Value>& args);

}  // namespace nibble::tokenizer::jinja
