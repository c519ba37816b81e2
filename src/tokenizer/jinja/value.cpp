#include "tokenizer/jinja/value.h"

#include <cmath>
#include <cstdlib>

#include "tokenizer/jinja/errors.h"
#include "tokenizer/jinja/text.h"

namespace nibble::tokenizer::jinja {

Value Value::array(Array items) {
  Value v;
  v.type_ = Type::Array;
  v.p_ = std::make_shared<Array>(std::move(items));
  return v;
}

Value Value::object(Object entries) {
  Value v;
  v.type_ = Type::Object;
  v.p_ = std::make_shared<Object>(std::move(entries));
  return v;
}

Value Value::make_namespace(Object entries) {
  Value v = object(std::move(entries));
  v.type_ = Type::Namespace;
  return v;
}

Value Value::function(std::string name, std::function<Value(CallArgs&)> fn) {
  Value v;
  v.type_ = Type::Function;
  v.p_ = std::make_shared<Function>(Function{std::move(name), std::move(fn)});
  return v;
}

double Value::as_number() const {
  switch (type_) {
    case Type::Int: return static_cast<double>(n_.i);
    case Type::Float: return n_.f;
    case Type::Bool: return n_.b ? 1.0 : 0.0;
    default: return std::nan("");
  }
}

const Array& Value::as_array() const { return *static_cast<const Array*>(p_.get()); }
const Object& Value::as_object() const { return *static_cast<const Object*>(p_.get()); }
Object& Value::namespace_entries() const { return *static_cast<Object*>(p_.get()); }
const Function& Value::as_function() const { return *static_cast<const Function*>(p_.get()); }

bool Value::truthy() const {
  switch (type_) {
    case Type::Undefined:
    case Type::Null: return false;
    case Type::Bool: return n_.b;
    case Type::Int: return n_.i != 0;
    case Type::Float: return n_.f != 0 && !std::isnan(n_.f);
    case Type::String: return !s_.empty();
    case Type::Array: return !as_array().empty();
    case Type::Object: return !as_object().empty();
    case Type::Namespace:
    case Type::Function: return true;
  }
  return false;
}

const char* Value::type_name() const {
  switch (type_) {
    case Type::Undefined: return "undefined";
    case Type::Null: return "none";
    case Type::Bool: return "boolean";
    case Type::Int: return "integer";
    case Type::Float: return "float";
    case Type::String: return "string";
    case Type::Array: return "list";
    case Type::Object: return "dict";
    case Type::Namespace: return "namespace";
    case Type::Function: return "function";
  }
  return "value";
}

const Value* Object::find(std::string_view key) const {
  if (!index_.empty()) {
    auto it = index_.find(std::string(key));
    return it == index_.end() ? nullptr : &entries_[it->second].second;
  }
  for (const auto& e : entries_)
    if (e.first == key) return &e.second;
  return nullptr;
}

void Object::set(std::string key, Value value) {
  for (size_t i = 0; index_.empty() && i < entries_.size(); ++i) {
    if (entries_[i].first == key) {
      entries_[i].second = std::move(value);
      return;
    }
  }
  if (!index_.empty()) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      entries_[it->second].second = std::move(value);
      return;
    }
  }
  entries_.emplace_back(std::move(key), std::move(value));
  constexpr size_t kIndexAbove = 12;
  if (!index_.empty()) {
    index_.emplace(entries_.back().first, entries_.size() - 1);
  } else if (entries_.size() > kIndexAbove) {
    for (size_t i = 0; i < entries_.size(); ++i) index_.emplace(entries_[i].first, i);
  }
}

void Object::append_new(std::string key, Value value) {
  if (!index_.empty() || entries_.size() >= 12) {
    set(std::move(key), std::move(value));
    return;
  }
  entries_.emplace_back(std::move(key), std::move(value));
}

void Object::clear() {
  entries_.clear();
  index_.clear();
}

Value CallArgs::get(size_t i, std::string_view name) const {
  if (i < positional.size()) return positional[i];
  if (const Value* v = keyword_arg(name)) return *v;
  return Value();
}

const Value* CallArgs::keyword_arg(std::string_view name) const {
  for (const auto& [k, v] : keyword)
    if (k == name) return &v;
  return nullptr;
}

namespace {

bool numeric_like(const Value& v) { return v.is_number() || v.is_bool(); }

// JavaScript's Number(string).
double string_to_number(const std::string& s) {
  const std::string t = trim(s);
  if (t.empty()) return 0;
  if (t == "Infinity" || t == "+Infinity") return INFINITY;
  if (t == "-Infinity") return -INFINITY;
  const bool hex = t.size() > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X');
  char* end = nullptr;
  const double v = hex ? static_cast<double>(std::strtoull(t.c_str() + 2, &end, 16)) : std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size()) return std::nan("");
  if (!hex && (t.find_first_of("xXnN") != std::string::npos)) return std::nan("");  // strtod's "nan", "0x"
  return v;
}

}  // namespace

bool loose_equal(const Value& a, const Value& b) {
  using T = Value::Type;
  const bool a_nullish = a.is_null() || a.is_undefined();
  const bool b_nullish = b.is_null() || b.is_undefined();
  if (a_nullish || b_nullish) return a_nullish && b_nullish;
  if (numeric_like(a) && numeric_like(b)) return a.as_number() == b.as_number();
  if (a.is_string() && b.is_string()) return a.as_string() == b.as_string();
  if (a.is_string() && numeric_like(b)) return string_to_number(a.as_string()) == b.as_number();
  if (b.is_string() && numeric_like(a)) return string_to_number(b.as_string()) == a.as_number();
  if (a.type() == b.type() &&
      (a.type() == T::Array || a.type() == T::Object || a.type() == T::Namespace || a.type() == T::Function))
    return a.same_object(b);
  return false;
}

bool strict_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_number() == b.as_number();
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Value::Type::Undefined:
    case Value::Type::Null: return true;
    case Value::Type::Bool: return a.as_bool() == b.as_bool();
    case Value::Type::String: return a.as_string() == b.as_string();
    default: return a.same_object(b);
  }
}

int compare_values(const Value& a, const Value& b, bool case_sensitive) {
  if ((a.is_null() && b.is_null()) || (a.is_undefined() && b.is_undefined())) return 0;
  if (numeric_like(a) && numeric_like(b)) {
    const double x = a.as_number(), y = b.as_number();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const std::string x = case_sensitive ? a.as_string() : to_lower(a.as_string());
    const std::string y = case_sensitive ? b.as_string() : to_lower(b.as_string());
    return x < y ? -1 : x > y ? 1 : 0;
  }
  eval_fail("cannot compare ", a.type_name(), " with ", b.type_name());
}

}  // namespace nibble::tokenizer::jinja
