#include "tokenizer/jinja/convert.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "core/error.h"
#include "tokenizer/jinja/errors.h"
#include "tokenizer/jinja/limits.h"
#include "tokenizer/jinja/text.h"

namespace nibble::tokenizer::jinja {

namespace {

Value from_json_at(const nlohmann::ordered_json& j, int depth) {
  NIBBLE_CHECK(depth <= kMaxValueDepth, "chat template input nests deeper than ", kMaxValueDepth, " levels");
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
    case nlohmann::ordered_json::value_t::discarded: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer: return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: {
      const double f = j.get<double>();
      if (std::isfinite(f) && f == std::floor(f) && std::fabs(f) < 9.0e18) return Value(static_cast<int64_t>(f));
      return Value(f);
    }
    case nlohmann::ordered_json::value_t::string: return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      Array items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(from_json_at(item, depth + 1));
      return Value::array(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Object entries;
      for (const auto& [key, item] : j.items()) entries.set(key, from_json_at(item, depth + 1));
      return Value::object(std::move(entries));
    }
    case nlohmann::ordered_json::value_t::binary: fail("chat template input: binary JSON values are not supported");
  }
  return Value();
}

void append_json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const size_t at = i;
    const char32_t c = next_code_point(s, i);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
          auto unit = [&](unsigned u) {
            out += "\\u";
            for (int shift = 12; shift >= 0; shift -= 4) out += hex[(u >> shift) & 0xF];
          };
          if (c >= 0x10000) {
            unit(0xD800 + ((c - 0x10000) >> 10));
            unit(0xDC00 + ((c - 0x10000) & 0x3FF));
          } else {
            unit(c);
          }
        } else {
          out.append(s, at, i - at);
        }
    }
  }
  out += '"';
}

std::string json_number(const Value& v) {
  if (v.is_int()) return std::to_string(v.as_int());
  const double f = v.as_float();
  return std::isfinite(f) ? js_number(f) : "null";
}

struct JsonWriter {
  const JsonOptions& options;
  bool undefined_as_null;
  std::string item_sep, key_sep;

  void write(std::string& out, const Value& v, int depth) const {
    if (depth > kMaxValueDepth) eval_fail("value nests deeper than ", kMaxValueDepth, " levels (or contains itself)");
    switch (v.type()) {
      case Value::Type::Undefined: out += undefined_as_null ? "null" : "undefined"; return;
      case Value::Type::Null: out += "null"; return;
      case Value::Type::Bool: out += v.as_bool() ? "true" : "false"; return;
      case Value::Type::Int:
      case Value::Type::Float: out += json_number(v); return;
      case Value::Type::String: append_json_string(out, v.as_string(), options.ensure_ascii); return;
      case Value::Type::Function: eval_fail("cannot convert a function to JSON");
      case Value::Type::Array:
      case Value::Type::Object:
      case Value::Type::Namespace: break;
    }
    const std::string indent = options.indent > 0 ? std::string(static_cast<size_t>(options.indent), ' ') : "";
    std::string base_pad = "\n", child_pad;
    for (int d = 0; d < depth; ++d) base_pad += indent;
    child_pad = base_pad + indent;
    const bool pretty = options.indent > 0;
    if (v.is_array()) {
      const Array& items = v.as_array();
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += item_sep;
        if (pretty) out += child_pad;
        write(out, items[i], depth + 1);
      }
      if (pretty && !items.empty()) out += base_pad;
      out += ']';
      return;
    }
    std::vector<const Object::Entry*> entries;
    for (const auto& e : v.as_object()) entries.push_back(&e);
    if (options.sort_keys)
      std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
    out += '{';
    for (size_t i = 0; i < entries.size(); ++i) {
      if (i > 0) out += item_sep;
      if (pretty) out += child_pad;
      append_json_string(out, entries[i]->first, options.ensure_ascii);
      out += key_sep;
      write(out, entries[i]->second, depth + 1);
    }
    if (pretty && !entries.empty()) out += base_pad;
    out += '}';
  }
};

std::string to_json_impl(const Value& v, const JsonOptions& options, bool undefined_as_null) {
  JsonWriter w{options, undefined_as_null, ", ", ": "};
  if (options.separators) {
    w.item_sep = options.separators->first;
    w.key_sep = options.separators->second;
  } else if (options.indent > 0) {
    w.item_sep = ",";  // json.dumps with indent drops the space after commas
  }
  std::string out;
  w.write(out, v, 0);
  return out;
}

}  // namespace

Value from_json(const nlohmann::ordered_json& json) { return from_json_at(json, 0); }

std::string to_json(const Value& v, const JsonOptions& options) { return to_json_impl(v, options, true); }

std::string to_text(const Value& v) {
  switch (v.type()) {
    case Value::Type::Undefined:
    case Value::Type::Null: return "";
    case Value::Type::Bool: return v.as_bool() ? "true" : "false";
    case Value::Type::Int: return std::to_string(v.as_int());
    case Value::Type::Float: {
      const double f = v.as_float();
      if (f == 0 && std::signbit(f)) return "-0.0";
      if (std::isfinite(f) && f == std::floor(f) && std::fabs(f) < 1e21) {
        char buf[64];
        const auto r = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::fixed, 0);
        return std::string(buf, r.ptr) + ".0";
      }
      return js_number(f);
    }
    case Value::Type::String: return v.as_string();
    case Value::Type::Function: return "<function " + v.as_function().name + ">";
    default: return to_json_impl(v, JsonOptions{}, false);
  }
}

}  // namespace nibble::tokenizer::jinja
