#include "tokenizer/jinja/operators.h"

#include <cmath>
#include <vector>

#include "tokenizer/jinja/convert.h"
#include "tokenizer/jinja/errors.h"
#include "tokenizer/jinja/limits.h"
#include "tokenizer/jinja/methods.h"
#include "tokenizer/jinja/text.h"

namespace nibble::tokenizer::jinja {

namespace {

std::optional<int64_t> slice_bound(const Value& v, const char* what) {
  if (v.is_undefined() || v.is_null()) return std::nullopt;
  if (!v.is_int()) eval_fail("slice ", what, " must be an integer, got ", v.type_name());
  return v.as_int();
}

// Python's sequence[start:stop:step] as indexes into a sequence of `len` items.
std::vector<size_t> slice_indexes(size_t len, std::optional<int64_t> start, std::optional<int64_t> stop,
                                  std::optional<int64_t> step_opt) {
  const int64_t n = static_cast<int64_t>(len);
  const int64_t step = step_opt.value_or(1);
  if (step == 0) eval_fail("slice step cannot be zero");
  const int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? n : n - 1;
  auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t x = *v < 0 ? *v + n : *v;
    return x < lower ? lower : x > upper ? upper : x;
  };
  const int64_t from = clamp(start, step > 0 ? lower : upper);
  const int64_t to = clamp(stop, step > 0 ? upper : lower);
  std::vector<size_t> out;
  for (int64_t i = from; step > 0 ? i < to : i > to;) {
    out.push_back(static_cast<size_t>(i));
    if (__builtin_add_overflow(i, step, &i)) break;
  }
  return out;
}

bool numeric(const Value& v) { return v.is_number() || v.is_bool(); }

// An integer or boolean operand as an integer.
int64_t int_of(const Value& v) { return v.is_int() ? v.as_int() : (v.as_bool() ? 1 : 0); }

Value int_or_float(const Value& l, const Value& r, int64_t (*int_op)(int64_t, int64_t, bool&), double f) {
  if (!l.is_float() && !r.is_float()) {
    bool overflow = false;
    const int64_t i = int_op(int_of(l), int_of(r), overflow);
    if (!overflow) return Value(i);
  }
  return Value(f);
}

int64_t add_i(int64_t a, int64_t b, bool& o) {
  int64_t r = 0;
  o = __builtin_add_overflow(a, b, &r);
  return r;
}
int64_t sub_i(int64_t a, int64_t b, bool& o) {
  int64_t r = 0;
  o = __builtin_sub_overflow(a, b, &r);
  return r;
}
int64_t mul_i(int64_t a, int64_t b, bool& o) {
  int64_t r = 0;
  o = __builtin_mul_overflow(a, b, &r);
  return r;
}

Value arithmetic(const std::string& op, const Value& l, const Value& r) {
  const double a = l.as_number(), b = r.as_number();
  const bool ints = !l.is_float() && !r.is_float();
  if (op == "+") return int_or_float(l, r, add_i, a + b);
  if (op == "-") return int_or_float(l, r, sub_i, a - b);
  if (op == "*") return int_or_float(l, r, mul_i, a * b);
  if (op == "/") {
    if (b == 0) eval_fail("division by zero");
    return Value(a / b);
  }
  if (op == "//" || op == "%") {
    if (b == 0) eval_fail(op == "%" ? "modulo" : "division", " by zero");
    if (ints && !(int_of(l) == INT64_MIN && int_of(r) == -1)) {
      const int64_t x = int_of(l), y = int_of(r);
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      return Value(op == "//" ? q : m);
    }
    if (op == "//") return Value(std::floor(a / b));
    double m = std::fmod(a, b);
    if (m != 0 && ((m < 0) != (b < 0))) m += b;
    return Value(m);
  }
  if (op == "**") {
    if (a == 0 && b < 0) eval_fail("0 cannot be raised to a negative power");
    const double p = std::pow(a, b);
    if (!std::isfinite(p)) eval_fail("exponentiation result is not a finite number");
    if (ints && b >= 0 && std::fabs(p) < 9.0e18) return Value(static_cast<int64_t>(p));
    return Value(p);
  }
  if (op == "<") return Value(a < b);
  if (op == ">") return Value(a > b);
  if (op == "<=") return Value(a <= b);
  if (op == ">=") return Value(a >= b);
  eval_fail("unknown operator '", op, "'");
}

Value concat_text(const Value& left, const Value& right) {
  std::string a = to_text(left);
  const std::string b = to_text(right);
  if (a.size() + b.size() > kMaxTextBytes)
    eval_fail("string of ", a.size() + b.size(), " bytes exceeds the limit of ", kMaxTextBytes);
  a += b;
  return Value(std::move(a));
}

}  // namespace

Value binary_operation(const std::string& op, const Value& left, const Value& right) {
  if (op == "==") return Value(loose_equal(left, right));
  if (op == "!=") return Value(!loose_equal(left, right));
  if (op == "~") return concat_text(left, right);
  const bool in = op == "in" || op == "not in";
  if (left.is_undefined() || right.is_undefined() || left.is_null() || right.is_null()) {
    if (right.is_undefined() && in) return Value(op == "not in");
    const Value& bad = left.is_undefined() || left.is_null() ? left : right;
    eval_fail("cannot use '", op, "' with ", bad.is_undefined() ? "an undefined value" : "none");
  }
  if (in) {
    bool found = false;
    if (right.is_array()) {
      for (const Value& x : right.as_array()) found = found || strict_equal(x, left);
    } else if (right.is_string() && left.is_string()) {
      found = right.as_string().find(left.as_string()) != std::string::npos;
    } else if (right.is_object() && left.is_string()) {
      found = right.as_object().find(left.as_string()) != nullptr;
    } else {
      eval_fail("cannot use 'in' with ", left.type_name(), " and ", right.type_name());
    }
    return Value(found != (op == "not in"));
  }
  if (numeric(left) && numeric(right)) return arithmetic(op, left, right);
  if (op == "+" && left.is_array() && right.is_array()) {
    if (left.as_array().size() + right.as_array().size() > kMaxListItems)
      eval_fail("list of ", left.as_array().size() + right.as_array().size(), " items exceeds the limit of ",
                kMaxListItems);
    Array out = left.as_array();
    out.insert(out.end(), right.as_array().begin(), right.as_array().end());
    return Value::array(std::move(out));
  }
  if (op == "+" && (left.is_string() || right.is_string())) return concat_text(left, right);
  if (op == "*" && (left.is_string() || right.is_string()) && (left.is_int() || right.is_int())) {
    const std::string& s = left.is_string() ? left.as_string() : right.as_string();
    const int64_t times = left.is_int() ? left.as_int() : right.as_int();
    if (times > 0 && !s.empty() && static_cast<uint64_t>(times) > kMaxTextBytes / s.size())
      eval_fail("string repetition longer than ", kMaxTextBytes, " bytes");
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += s;
    return Value(std::move(out));
  }
  if (left.is_string() && right.is_string() && (op == "<" || op == ">" || op == "<=" || op == ">=")) {
    const int c = left.as_string().compare(right.as_string());
    return Value(op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0);
  }
  eval_fail("cannot use '", op, "' with ", left.type_name(), " and ", right.type_name());
}

Value subscript(const Value& object, const Value& key) {
  if (object.is_object() || object.is_namespace()) {
    if (!key.is_string()) eval_fail("cannot look up a ", key.type_name(), " key in a ", object.type_name());
    if (const Value* v = object.as_object().find(key.as_string())) return *v;
    return object.is_object() ? builtin_attribute(object, key.as_string()) : Value();
  }
  if (object.is_array() || object.is_string()) {
    if (key.is_int()) {
      if (object.is_array()) {
        const Array& items = object.as_array();
        const int64_t n = static_cast<int64_t>(items.size());
        const int64_t i = key.as_int() < 0 ? key.as_int() + n : key.as_int();
        return i >= 0 && i < n ? items[static_cast<size_t>(i)] : Value();
      }
      const auto chars = split_code_points(object.as_string());
      const int64_t n = static_cast<int64_t>(chars.size());
      const int64_t i = key.as_int() < 0 ? key.as_int() + n : key.as_int();
      return i >= 0 && i < n ? Value(chars[static_cast<size_t>(i)]) : Value();
    }
    if (key.is_string()) return builtin_attribute(object, key.as_string());
    eval_fail("cannot index a ", object.type_name(), " with a ", key.type_name());
  }
  if (key.is_string()) return Value();  // none, undefined, numbers: no attributes
  eval_fail("cannot index a ", object.type_name(), " value");
}

Value slice(const Value& object, const Value& start_v, const Value& stop_v, const Value& step_v) {
  const auto start = slice_bound(start_v, "start"), stop = slice_bound(stop_v, "stop"),
             step = slice_bound(step_v, "step");
  if (object.is_array()) {
    const Array& items = object.as_array();
    Array out;
    for (size_t i : slice_indexes(items.size(), start, stop, step)) out.push_back(items[i]);
    return Value::array(std::move(out));
  }
  if (object.is_string()) {
    const auto chars = split_code_points(object.as_string());
    std::string out;
    for (size_t i : slice_indexes(chars.size(), start, stop, step)) out += chars[i];
    return Value(std::move(out));
  }
  eval_fail("cannot slice a ", object.type_name());
}

}  // namespace nibble::tokenizer::jinja
