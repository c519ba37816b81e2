#include "tokenizer/jinja/predicates.h"

#include <cmath>
#include <string>

#include "tokenizer/jinja/errors.h"
#include "tokenizer/jinja/text.h"

namespace nibble::tokenizer::jinja {

namespace {

const Value& argument(std::string_view test, const std::vector<Value>& args) {
  if (args.empty()) eval_fail("test '", test, "' needs an argument");
  return args[0];
}

bool contains(const Value& container, const Value& item) {
  if (container.is_array()) {
    for (const Value& x : container.as_array())
      if (strict_equal(x, item)) return true;
    return false;
  }
  if (container.is_string() && item.is_string())
    return container.as_string().find(item.as_string()) != std::string::npos;
  if (container.is_object() && item.is_string()) return container.as_object().find(item.as_string()) != nullptr;
  eval_fail("test 'in' cannot look for ", item.type_name(), " in ", container.type_name());
}

double number_of(std::string_view test, const Value& v) {
  if (!v.is_number() && !v.is_bool()) eval_fail("test '", test, "' needs a number, got ", v.type_name());
  return v.as_number();
}

}  // namespace

bool apply_test(std::string_view name, const Value& v, const std::vector<Value>& args) {
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_null();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "mapping") return v.is_object();
  if (name == "iterable") return v.is_array() || v.is_string() || v.is_object();
  if (name == "sequence") return v.is_array() || v.is_string() || v.is_object();
  if (name == "callable") return v.is_function();
  if (name == "lower") return v.is_string() && to_lower(v.as_string()) == v.as_string();
  if (name == "upper") return v.is_string() && to_upper(v.as_string()) == v.as_string();
  if (name == "odd" || name == "even") {
    if (!v.is_int()) eval_fail("test '", name, "' needs an integer, got ", v.type_name());
    const bool odd = v.as_int() % 2 != 0;
    return name == "odd" ? odd : !odd;
  }
  if (name == "divisibleby") {
    const double d = number_of(name, argument(name, args));
    if (d == 0) eval_fail("test 'divisibleby' with 0");
    return std::fmod(number_of(name, v), d) == 0;
  }
  if (name == "equalto" || name == "eq" || name == "==") return strict_equal(v, argument(name, args));
  if (name == "ne" || name == "!=") return !strict_equal(v, argument(name, args));
  if (name == "sameas") return strict_equal(v, argument(name, args));
  if (name == "lt" || name == "<") return compare_values(v, argument(name, args), true) < 0;
  if (name == "le" || name == "<=") return compare_values(v, argument(name, args), true) <= 0;
  if (name == "gt" || name == ">") return compare_values(v, argument(name, args), true) > 0;
  if (name == "ge" || name == ">=") return compare_values(v, argument(name, args), true) >= 0;
  if (name == "in") return contains(argument(name, args), v);
  eval_fail("unknown test '", name, "'");
}

}  // namespace nibble::tokenizer::jinja
