#include "tokenizer/jinja/filters.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "tokenizer/jinja/convert.h"
#include "tokenizer/jinja/errors.h"
#include "tokenizer/jinja/methods.h"
#include "tokenizer/jinja/predicates.h"
#include "tokenizer/jinja/text.h"

namespace nibble::tokenizer::jinja {

namespace {

bool given(const Value& v) { return !v.is_undefined() && !v.is_null(); }

const std::string& need_string(std::string_view filter, const Value& v) {
  if (!v.is_string()) eval_fail("filter '", filter, "' needs a string, got ", v.type_name());
  return v.as_string();
}

bool flag(const Value& v) { return v.truthy(); }

// "a.b.0": dict keys and list indexes, undefined where the path breaks.
Value attribute_path(const Value& item, const std::string& path) {
  Value cur = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (cur.is_object() || cur.is_namespace()) {
      const Value* v = cur.as_object().find(part);
      cur = v ? *v : Value();
    } else if (cur.is_array()) {
      char* end = nullptr;
      const long long i = std::strtoll(part.c_str(), &end, 10);
      const auto& items = cur.as_array();
      if (part.empty() || *end != '\0' || i < 0 || static_cast<size_t>(i) >= items.size()) return Value();
      cur = items[static_cast<size_t>(i)];
    } else {
      return Value();
    }
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

std::string attribute_name(const Value& v) {
  if (v.is_string()) return v.as_string();
  if (v.is_int()) return std::to_string(v.as_int());
  eval_fail("attribute must be a string or an integer, got ", v.type_name());
}

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// JavaScript's parseInt(s, 10) / parseFloat(s): the longest numeric prefix.
bool parse_int_prefix(const std::string& s, int64_t& out) {
  const std::string t = trim(s, true, false);
  size_t i = 0;
  bool negative = false;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) negative = t[i++] == '-';
  const size_t digits = i;
  double v = 0;
  while (i < t.size() && is_digit(t[i])) v = v * 10 + (t[i++] - '0');
  if (i == digits || v > 9.2e18) return false;
  out = static_cast<int64_t>(negative ? -v : v);
  return true;
}

bool parse_float_prefix(const std::string& s, double& out) {
  const std::string t = trim(s, true, false);
  size_t i = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
  if (t.compare(i, 8, "Infinity") == 0) {
    out = t[0] == '-' ? -INFINITY : INFINITY;
    return true;
  }
  if (i >= t.size() || !(is_digit(t[i]) || (t[i] == '.' && i + 1 < t.size() && is_digit(t[i + 1])))) return false;
  out = std::strtod(t.c_str(), nullptr);
  return true;
}

Value to_int(const Value& v, const Value& fallback) {
  if (v.is_int()) return v;
  if (v.is_float()) {
    const double f = std::floor(v.as_float());
    if (!(std::fabs(f) < 9.0e18)) eval_fail("filter 'int' cannot convert ", js_number(v.as_float()));
    return Value(static_cast<int64_t>(f));
  }
  if (v.is_bool()) return Value(int64_t{v.as_bool() ? 1 : 0});
  if (v.is_string()) {
    int64_t i = 0;
    return parse_int_prefix(v.as_string(), i) ? Value(i) : fallback;
  }
  eval_fail("filter 'int' cannot convert ", v.type_name());
}

Value to_float(const Value& v, const Value& fallback) {
  if (v.is_number() || v.is_bool()) return Value(v.as_number());
  if (v.is_string()) {
    double f = 0;
    return parse_float_prefix(v.as_string(), f) ? Value(f) : fallback;
  }
  eval_fail("filter 'float' cannot convert ", v.type_name());
}

Array sorted(Array items, bool reverse, bool case_sensitive, const Value& attribute) {
  const bool by_attribute = given(attribute);
  const std::string path = by_attribute ? attribute_name(attribute) : "";
  auto key = [&](const Value& item) { return by_attribute ? attribute_path(item, path) : item; };
  std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
    const int c = compare_values(key(a), key(b), case_sensitive);
    return reverse ? c > 0 : c < 0;
  });
  return items;
}

// The test for select/reject (args from `first`): a named test, or truthiness.
bool passes(const Value& v, const CallArgs& args, size_t first) {
  if (args.positional.size() <= first) return v.truthy();
  const Value& test = args.positional[first];
  if (!test.is_string()) eval_fail("test name must be a string, got ", test.type_name());
  std::vector<Value> rest(args.positional.begin() + static_cast<std::ptrdiff_t>(first) + 1, args.positional.end());
  return apply_test(test.as_string(), v, rest);
}

Value json_filter(const Value& v, const CallArgs& args) {
  JsonOptions options;
  const Value indent = args.get(0, "indent");
  if (indent.is_int()) {
    options.indent = static_cast<int>(std::clamp<int64_t>(indent.as_int(), 0, 64));
  } else if (given(indent)) {
    eval_fail("tojson indent must be an integer, got ", indent.type_name());
  }
  options.ensure_ascii = flag(args.get(99, "ensure_ascii"));
  options.sort_keys = flag(args.get(99, "sort_keys"));
  const Value seps = args.get(99, "separators");
  if (given(seps)) {
    if (!seps.is_array() || seps.as_array().size() != 2 || !seps.as_array()[0].is_string() ||
        !seps.as_array()[1].is_string())
      eval_fail("tojson separators must be two strings");
    options.separators = std::make_pair(seps.as_array()[0].as_string(), seps.as_array()[1].as_string());
  }
  return Value(to_json(v, options));
}

Value length_of(const Value& v) {
  if (v.is_string()) return Value(static_cast<int64_t>(count_code_points(v.as_string())));
  if (v.is_array()) return Value(static_cast<int64_t>(v.as_array().size()));
  if (v.is_object() || v.is_namespace()) return Value(static_cast<int64_t>(v.as_object().size()));
  if (v.is_undefined()) return Value(int64_t{0});
  eval_fail("filter 'length' needs a string, list or dict, got ", v.type_name());
}

Array as_list(std::string_view filter, const Value& v) {
  if (v.is_array()) return v.as_array();
  if (v.is_string()) {
    Array out;
    for (auto& c : split_code_points(v.as_string())) out.emplace_back(std::move(c));
    return out;
  }
  if (v.is_object()) {
    Array out;
    for (const auto& e : v.as_object()) out.emplace_back(e.first);
    return out;
  }
  if (v.is_undefined()) return {};
  eval_fail("filter '", filter, "' needs a list, string or dict, got ", v.type_name());
}

Value min_max_sum(std::string_view name, const Value& v, const CallArgs& args) {
  Array items = as_list(name, v);
  const Value attribute = args.keyword_arg("attribute") ? *args.keyword_arg("attribute") : Value();
  if (given(attribute)) {
    const std::string path = attribute_name(attribute);
    for (Value& item : items) item = attribute_path(item, path);
  }
  if (name == "sum") {
    Value total = args.get(1, "start");
    if (total.is_undefined()) total = Value(int64_t{0});
    for (const Value& item : items) {
      if (!(item.is_number() || item.is_bool()) || !(total.is_number() || total.is_bool()))
        eval_fail("filter 'sum' needs numbers, got ", item.type_name());
      if (total.is_int() && item.is_int()) {
        total = Value(total.as_int() + item.as_int());
      } else {
        total = Value(total.as_number() + item.as_number());
      }
    }
    return total;
  }
  if (items.empty()) return Value();
  const bool case_sensitive = flag(args.get(0, "case_sensitive"));
  Value best = items[0];
  for (const Value& item : items) {
    const int c = compare_values(item, best, case_sensitive);
    if (name == "min" ? c < 0 : c > 0) best = item;
  }
  return best;
}

}  // namespace

Value apply_filter(std::string_view name, const Value& v, const CallArgs& args) {
  if (name == "safe") return v;
  if (name == "tojson") return json_filter(v, args);
  if (name == "e" || name == "escape" || name == "forceescape") return Value(html_escape(to_text(v)));
  if (name == "string") return Value(to_text(v));
  if (name == "default" || name == "d") {
    const bool boolean = flag(args.get(1, "boolean"));
    if (v.is_undefined() || (boolean && !v.truthy())) {
      const Value fallback = args.get(0, "default_value");
      return fallback.is_undefined() ? Value("") : fallback;
    }
    return v;
  }
  if (name == "length" || name == "count") return length_of(v);
  if (name == "list") return Value::array(as_list(name, v));
  if (name == "first" || name == "last") {
    const Array items = as_list(name, v);
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) {
      auto chars = split_code_points(v.as_string());
      std::string out;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
      return Value(std::move(out));
    }
    Array items = as_list(name, v);
    std::reverse(items.begin(), items.end());
    return Value::array(std::move(items));
  }
  if (name == "sort") {
    return Value::array(sorted(as_list(name, v), flag(args.get(0, "reverse")), flag(args.get(1, "case_sensitive")),
                               args.get(2, "attribute")));
  }
  if (name == "unique") {
    Array out;
    for (const Value& item : as_list(name, v)) {
      bool seen = false;
      for (const Value& kept : out) seen = seen || strict_equal(kept, item);
      if (!seen) out.push_back(item);
    }
    return Value::array(std::move(out));
  }
  if (name == "join") {
    const Value sep_value = args.get(0, "d");
    const std::string sep = sep_value.is_undefined() ? "" : to_text(sep_value);
    const Value attribute = args.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : as_list(name, v)) {
      if (!first) out += sep;
      out += to_text(given(attribute) ? attribute_path(item, attribute_name(attribute)) : item);
      first = false;
    }
    return Value(std::move(out));
  }
  if (name == "upper") return Value(to_upper(need_string(name, v)));
  if (name == "lower") return Value(to_lower(need_string(name, v)));
  if (name == "title") return Value(title_case(need_string(name, v)));
  if (name == "capitalize") return Value(capitalize(need_string(name, v)));
  if (name == "trim") {
    const Value chars = args.get(0, "chars");
    if (given(chars)) return Value(trim_chars(need_string(name, v), need_string(name, chars), true, true));
    return Value(trim(need_string(name, v)));
  }
  if (name == "indent") {
    const std::string& s = need_string(name, v);
    const Value width = args.get(0, "width");
    std::string pad = "    ";
    if (width.is_int()) {
      pad = std::string(static_cast<size_t>(std::clamp<int64_t>(width.as_int(), 0, 256)), ' ');
    } else if (width.is_string()) {
      pad = width.as_string();
    } else if (given(width)) {
      eval_fail("indent width must be an integer or a string");
    }
    const bool first = flag(args.get(1, "first")), blank = flag(args.get(2, "blank"));
    std::string out;
    size_t start = 0;
    for (size_t line = 0;; ++line) {
      const size_t nl = s.find('\n', start);
      const std::string text = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      if ((line > 0 || first) && (blank || !text.empty())) out += pad;
      out += text;
      if (nl == std::string::npos) break;
      out += '\n';
      start = nl + 1;
    }
    return Value(std::move(out));
  }
  if (name == "replace") {
    const Value from = args.get(0, "old"), to = args.get(1, "new"), count = args.get(2, "count");
    return Value(replace_all(need_string(name, v), need_string(name, from), need_string(name, to),
                             count.is_int() ? count.as_int() : -1));
  }
  if (name == "int") {
    const Value fallback = args.get(0, "default");
    return to_int(v, fallback.is_undefined() ? Value(int64_t{0}) : fallback);
  }
  if (name == "float") {
    const Value fallback = args.get(0, "default");
    return to_float(v, fallback.is_undefined() ? Value(0.0) : fallback);
  }
  if (name == "abs") {
    if (v.is_int()) {
      if (v.as_int() == INT64_MIN) return Value(-static_cast<double>(v.as_int()));
      return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    }
    if (v.is_float()) return Value(std::fabs(v.as_float()));
    eval_fail("filter 'abs' needs a number, got ", v.type_name());
  }
  if (name == "round") {
    if (!v.is_number()) eval_fail("filter 'round' needs a number, got ", v.type_name());
    const Value precision = args.get(0, "precision"), method = args.get(1, "method");
    const double scale = std::pow(10.0, precision.is_int() ? static_cast<double>(precision.as_int()) : 0.0);
    const std::string how = method.is_string() ? method.as_string() : "common";
    const double x = v.as_number() * scale;
    const double r = how == "ceil" ? std::ceil(x) : how == "floor" ? std::floor(x) : std::round(x);
    return Value(r / scale);
  }
  if (name == "bool") return Value(v.truthy());
  if (name == "items") {
    if (v.is_undefined()) return Value::array({});
    if (!v.is_object()) eval_fail("filter 'items' needs a dict, got ", v.type_name());
    Array out;
    for (const auto& [k, item] : v.as_object()) out.push_back(Value::array({Value(k), item}));
    return Value::array(std::move(out));
  }
  if (name == "dictsort") {
    if (!v.is_object()) eval_fail("filter 'dictsort' needs a dict, got ", v.type_name());
    const bool case_sensitive = flag(args.get(0, "case_sensitive"));
    const Value by = args.get(1, "by");
    const bool by_value = by.is_string() && by.as_string() == "value";
    if (by.is_string() && !by_value && by.as_string() != "key") eval_fail("dictsort 'by' must be 'key' or 'value'");
    Array pairs;
    for (const auto& [k, item] : v.as_object()) pairs.push_back(Value::array({Value(k), item}));
    return Value::array(
        sorted(std::move(pairs), flag(args.get(2, "reverse")), case_sensitive, Value(by_value ? "1" : "0")));
  }
  if (name == "selectattr" || name == "rejectattr") {
    const bool select = name == "selectattr";
    if (args.positional.empty()) eval_fail("filter '", name, "' needs an attribute name");
    const std::string path = attribute_name(args.positional[0]);
    Array out;
    for (const Value& item : as_list(name, v))
      if (passes(attribute_path(item, path), args, 1) == select) out.push_back(item);
    return Value::array(std::move(out));
  }
  if (name == "select" || name == "reject") {
    const bool select = name == "select";
    Array out;
    for (const Value& item : as_list(name, v))
      if (passes(item, args, 0) == select) out.push_back(item);
    return Value::array(std::move(out));
  }
  if (name == "map") {
    Array out;
    if (const Value* attribute = args.keyword_arg("attribute")) {
      const std::string path = attribute_name(*attribute);
      const Value* fallback = args.keyword_arg("default");
      for (const Value& item : as_list(name, v)) {
        Value x = attribute_path(item, path);
        out.push_back(x.is_undefined() && fallback ? *fallback : x);
      }
      return Value::array(std::move(out));
    }
    if (args.positional.empty() || !args.positional[0].is_string())
      eval_fail("filter 'map' needs a filter name or attribute=");
    CallArgs rest;
    rest.positional.assign(args.positional.begin() + 1, args.positional.end());
    rest.keyword = args.keyword;
    for (const Value& item : as_list(name, v)) out.push_back(apply_filter(args.positional[0].as_string(), item, rest));
    return Value::array(std::move(out));
  }
  if (name == "min" || name == "max" || name == "sum") return min_max_sum(name, v, args);
  eval_fail("unknown filter '", name, "'");
}

}  // namespace nibble::tokenizer::jinja
