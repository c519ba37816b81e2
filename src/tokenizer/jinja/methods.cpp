#include "tokenizer/jinja/methods.h"

#include <string>

#include "tokenizer/jinja/convert.h"
#include "tokenizer/jinja/errors.h"
#include "tokenizer/jinja/text.h"

namespace nibble::tokenizer::jinja {

namespace {

std::string string_arg(const CallArgs& args, size_t i, std::string_view name, std::string_view method) {
  const Value v = args.get(i, name);
  if (!v.is_string()) eval_fail(method, "() argument '", name, "' must be a string, got ", v.type_name());
  return v.as_string();
}

// strip/lstrip/rstrip: whitespace, or the given characters (Python).
Value strip_method(const std::string& s, const CallArgs& args, bool left, bool right) {
  const Value chars = args.get(0, "chars");
  if (chars.is_undefined() || chars.is_null()) return Value(trim(s, left, right));
  if (!chars.is_string()) eval_fail("strip() argument must be a string or none, got ", chars.type_name());
  return Value(trim_chars(s, chars.as_string(), left, right));
}

Value affix_method(const std::string& s, const CallArgs& args, bool prefix) {
  const char* method = prefix ? "startswith" : "endswith";
  const Value pattern = args.get(0, prefix ? "prefix" : "suffix");
  auto test = [&](const std::string& p) {
    if (p.size() > s.size()) return false;
    return prefix ? s.compare(0, p.size(), p) == 0 : s.compare(s.size() - p.size(), p.size(), p) == 0;
  };
  if (pattern.is_string()) return Value(test(pattern.as_string()));
  if (pattern.is_array()) {
    for (const Value& p : pattern.as_array()) {
      if (!p.is_string()) eval_fail(method, "() tuple elements must be strings");
      if (test(p.as_string())) return Value(true);
    }
    return Value(false);
  }
  eval_fail(method, "() argument must be a string or a tuple of strings, got ", pattern.type_name());
}

Value split_method(const std::string& s, const CallArgs& args) {
  const Value sep = args.get(0, "sep");
  const Value max = args.get(1, "maxsplit");
  int64_t maxsplit = -1;
  if (max.is_int()) {
    maxsplit = max.as_int();
  } else if (!max.is_undefined() && !max.is_null()) {
    eval_fail("split() maxsplit must be an integer");
  }
  Array parts;
  if (sep.is_undefined() || sep.is_null()) {
    // Runs of whitespace separate; no empty strings at either end.
    size_t i = 0;
    auto skip_space = [&] {
      while (i < s.size()) {
        size_t j = i;
        if (!is_space(next_code_point(s, j))) break;
        i = j;
      }
    };
    skip_space();
    while (i < s.size()) {
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
        parts.emplace_back(s.substr(i));
        break;
      }
      const size_t start = i;
      while (i < s.size()) {
        size_t j = i;
        if (is_space(next_code_point(s, j))) break;
        i = j;
      }
      parts.emplace_back(s.substr(start, i - start));
      skip_space();
    }
    return Value::array(std::move(parts));
  }
  if (!sep.is_string()) eval_fail("split() separator must be a string or none, got ", sep.type_name());
  const std::string& d = sep.as_string();
  if (d.empty()) eval_fail("split() separator is empty");
  size_t start = 0;
  while (true) {
    const size_t at = s.find(d, start);
    if (at == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit)) break;
    parts.emplace_back(s.substr(start, at - start));
    start = at + d.size();
  }
  parts.emplace_back(s.substr(start));
  return Value::array(std::move(parts));
}

}  // namespace

// Python's str.replace; an empty `from` inserts `to` between code points.
std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  if (count < 0) count = INT64_MAX;
  std::string out;
  if (from.empty()) {
    for (size_t i = 0; i < s.size();) {
      if (count > 0) {
        out += to;
        --count;
      }
      const size_t at = i;
      next_code_point(s, i);
      out.append(s, at, i - at);
    }
    if (count > 0) out += to;
    return out;
  }
  size_t start = 0;
  while (count > 0) {
    const size_t at = s.find(from, start);
    if (at == std::string::npos) break;
    out.append(s, start, at - start);
    out += to;
    start = at + from.size();
    --count;
  }
  out.append(s, start, std::string::npos);
  return out;
}

Value builtin_attribute(const Value& receiver, std::string_view name) {
  if (receiver.is_string()) {
    const std::string s = receiver.as_string();
    if (name == "length") return Value(static_cast<int64_t>(count_code_points(s)));
    auto bind = [&](auto fn) {
      return Value::function(std::string(name), [s, fn](CallArgs& args) -> Value { return fn(s, args); });
    };
    if (name == "upper") return bind([](const std::string& x, CallArgs&) { return Value(to_upper(x)); });
    if (name == "lower") return bind([](const std::string& x, CallArgs&) { return Value(to_lower(x)); });
    if (name == "title") return bind([](const std::string& x, CallArgs&) { return Value(title_case(x)); });
    if (name == "capitalize") return bind([](const std::string& x, CallArgs&) { return Value(capitalize(x)); });
    if (name == "strip") return bind([](const std::string& x, CallArgs& a) { return strip_method(x, a, true, true); });
    if (name == "lstrip")
      return bind([](const std::string& x, CallArgs& a) { return strip_method(x, a, true, false); });
    if (name == "rstrip")
      return bind([](const std::string& x, CallArgs& a) { return strip_method(x, a, false, true); });
    if (name == "startswith") return bind([](const std::string& x, CallArgs& a) { return affix_method(x, a, true); });
    if (name == "endswith") return bind([](const std::string& x, CallArgs& a) { return affix_method(x, a, false); });
    if (name == "split") return bind([](const std::string& x, CallArgs& a) { return split_method(x, a); });
    if (name == "replace") {
      return bind([](const std::string& x, CallArgs& a) {
        const std::string from = string_arg(a, 0, "old", "replace");
        const std::string to = string_arg(a, 1, "new", "replace");
        const Value count = a.get(2, "count");
        if (!count.is_undefined() && !count.is_null() && !count.is_int())
          eval_fail("replace() count must be an integer");
        return Value(replace_all(x, from, to, count.is_int() ? count.as_int() : -1));
      });
    }
    if (name == "find") {
      return bind([](const std::string& x, CallArgs& a) {
        const size_t at = x.find(string_arg(a, 0, "sub", "find"));
        return Value(at == std::string::npos ? int64_t{-1} : static_cast<int64_t>(count_code_points(x.substr(0, at))));
      });
    }
    if (name == "count") {
      return bind([](const std::string& x, CallArgs& a) {
        const std::string sub = string_arg(a, 0, "sub", "count");
        if (sub.empty()) return Value(static_cast<int64_t>(count_code_points(x) + 1));
        int64_t n = 0;
        for (size_t at = x.find(sub); at != std::string::npos; at = x.find(sub, at + sub.size())) ++n;
        return Value(n);
      });
    }
    if (name == "join") {
      return bind([](const std::string& x, CallArgs& a) {
        const Value items = a.get(0, "iterable");
        if (!items.is_array()) eval_fail("join() argument must be a list, got ", items.type_name());
        std::string out;
        bool first = true;
        for (const Value& item : items.as_array()) {
          if (!item.is_string()) eval_fail("join() items must be strings, got ", item.type_name());
          if (!first) out += x;
          out += item.as_string();
          first = false;
        }
        return Value(std::move(out));
      });
    }
    return Value();
  }
  if (receiver.is_array()) {
    if (name == "length") return Value(static_cast<int64_t>(receiver.as_array().size()));
    return Value();
  }
  if (receiver.is_object()) {
    const Value self = receiver;
    auto bind = [&](auto fn) {
      return Value::function(std::string(name),
                             [self, fn](CallArgs& args) -> Value { return fn(self.as_object(), args); });
    };
    if (name == "get") {
      return bind([](const Object& o, CallArgs& a) {
        const Value key = a.get(0, "key");
        if (!key.is_string()) eval_fail("dict keys are strings, got ", key.type_name());
        if (const Value* v = o.find(key.as_string())) return *v;
        const Value fallback = a.get(1, "default");
        return fallback.is_undefined() ? Value::none() : fallback;
      });
    }
    if (name == "items") {
      return bind([](const Object& o, CallArgs&) {
        Array out;
        for (const auto& [k, v] : o) out.push_back(Value::array({Value(k), v}));
        return Value::array(std::move(out));
      });
    }
    if (name == "keys") {
      return bind([](const Object& o, CallArgs&) {
        Array out;
        for (const auto& e : o) out.emplace_back(e.first);
        return Value::array(std::move(out));
      });
    }
    if (name == "values") {
      return bind([](const Object& o, CallArgs&) {
        Array out;
        for (const auto& e : o) out.push_back(e.second);
        return Value::array(std::move(out));
      });
    }
  }
  return Value();
}

}  // namespace nibble::tokenizer::jinja
