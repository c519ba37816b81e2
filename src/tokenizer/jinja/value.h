// Runtime values of the Jinja interpreter: undefined, none, booleans,
// integers, floats, strings, lists, dicts (insertion-ordered), namespaces
// (the one mutable container: {% set ns.x = ... %}) and callables.
//
// Lists and dicts are shared, never modified after they are built, so copying
// a Value is cheap and two names can refer to the same message object (the
// identity that `==` on dicts compares, as in @huggingface/jinja).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nibble::tokenizer::jinja {

class Object;
struct Function;
class Value;
using Array = std::vector<Value>;

class Value {
 public:
  enum class Type { Undefined, Null, Bool, Int, Float, String, Array, Object, Namespace, Function };

  Value() = default;  // undefined
  static Value none() {
    Value v;
    v.type_ = Type::Null;
    return v;
  }
  Value(bool b) : type_(Type::Bool) { n_.b = b; }
  Value(int64_t i) : type_(Type::Int) { n_.i = i; }
  Value(int i) : Value(static_cast<int64_t>(i)) {}
  Value(double f) : type_(Type::Float) { n_.f = f; }
  Value(std::string s) : type_(Type::String), s_(std::move(s)) {}
  Value(const char* s) : Value(std::string(s)) {}
  static Value array(Array items);
  static Value object(Object entries);
  static Value make_namespace(Object entries);
  static Value function(std::string name, std::function<Value(struct CallArgs&)> fn);

  Type type() const { return type_; }
  bool is_undefined() const { return type_ == Type::Undefined; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_int() const { return type_ == Type::Int; }
  bool is_float() const { return type_ == Type::Float; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Float; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }
  bool is_namespace() const { return type_ == Type::Namespace; }
  bool is_function() const { return type_ == Type::Function; }

  bool as_bool() const { return n_.b; }
  int64_t as_int() const { return n_.i; }
  double as_float() const { return n_.f; }
  double as_number() const;  // int, float or bool as a double
  const std::string& as_string() const { return s_; }
  const Array& as_array() const;
  const Object& as_object() const;    // dict or namespace
  Object& namespace_entries() const;  // namespace only: its mutable attributes
  const Function& as_function() const;

  bool truthy() const;
  // Same list/dict/namespace/function object (not just equal contents).
  bool same_object(const Value& other) const { return p_ && p_ == other.p_; }
  // "undefined", "none", "boolean", "integer", "float", "string", "list", "dict", "namespace", "function".
  const char* type_name() const;

 private:
  Type type_ = Type::Undefined;
  union {
    bool b;
    int64_t i;
    double f;
  } n_{};
  std::string s_;
  std::shared_ptr<void> p_;  // Array, Object or Function
};

// A string-keyed map that remembers insertion order (JSON objects, kwargs).
class Object {
 public:
  using Entry = std::pair<std::string, Value>;
  const Value* find(std::string_view key) const;
  void set(std::string key, Value value);
  // Adds an entry whose key is known to be new (no duplicate check).
  void append_new(std::string key, Value value);
  void reserve(size_t n) { entries_.reserve(n); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  std::vector<Entry>::const_iterator begin() const { return entries_.begin(); }
  std::vector<Entry>::const_iterator end() const { return entries_.end(); }
  void clear();

 private:
  std::vector<Entry> entries_;
  std::unordered_map<std::string, size_t> index_;  // built once the map grows past a few entries
};

// Arguments of a call: positional values, then name=value pairs in call order.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;

  // Positional argument i, else keyword `name`, else undefined.
  Value get(size_t i, std::string_view name) const;
  const Value* keyword_arg(std::string_view name) const;
};

struct Function {
  std::string name;
  std::function<Value(CallArgs&)> call;
};

// JavaScript's == on two values (how @huggingface/jinja compares): numbers and
// booleans by number, strings by content, none equals undefined, containers by identity.
bool loose_equal(const Value& a, const Value& b);
// JavaScript's === (used by `in` on lists): like loose_equal without conversions.
bool strict_equal(const Value& a, const Value& b);
// Ordering for sort/dictsort: numbers (and booleans) by value, strings by
// bytes (optionally case-folded); other mixes are an error (EvalFailure).
int compare_values(const Value& a, const Value& b, bool case_sensitive);

}  // namespace nibble::tokenizer::jinja
