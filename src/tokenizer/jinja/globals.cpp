#include "tokenizer/jinja/globals.h"

#include <cmath>
#include <ctime>

#include "tokenizer/jinja/convert.h"
#include "tokenizer/jinja/errors.h"
#include "tokenizer/jinja/limits.h"

namespace nibble::tokenizer::jinja {

namespace {

Value raise_exception(CallArgs& args) {
  throw TemplateRaisedError("chat template rejected the input: " + to_text(args.get(0, "message")));
}

Value range(CallArgs& args) {
  int64_t bounds[3] = {0, 0, 1};  // start, stop, step
  const size_t n = args.positional.size();
  if (n < 1 || n > 3) eval_fail("range() takes 1 to 3 integer arguments, got ", n);
  for (size_t i = 0; i < n; ++i) {
    const Value& v = args.positional[i];
    if (!v.is_int() && !v.is_bool()) eval_fail("range() arguments must be integers, got ", v.type_name());
    bounds[n == 1 ? 1 : i] = v.is_int() ? v.as_int() : (v.as_bool() ? 1 : 0);
  }
  const int64_t start = bounds[0], stop = bounds[1], step = bounds[2];
  if (step == 0) eval_fail("range() step must not be zero");
  const double count = std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step));
  if (count > static_cast<double>(kMaxListItems)) eval_fail("range() longer than ", kMaxListItems, " items");
  Array out;
  if (count > 0) out.reserve(static_cast<size_t>(count));
  for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
    out.emplace_back(i);
    if (__builtin_add_overflow(i, step, &i)) break;
  }
  return Value::array(std::move(out));
}

Value make_namespace(CallArgs& args, std::vector<Value>* namespaces) {
  Object entries;
  if (args.positional.size() > 1) eval_fail("namespace() takes at most 1 positional argument");
  if (!args.positional.empty()) {
    const Value& init = args.positional[0];
    if (init.is_object()) {
      for (const auto& [k, v] : init.as_object()) entries.set(k, v);
    } else if (init.is_array()) {
      for (const Value& pair : init.as_array()) {
        if (!pair.is_array() || pair.as_array().size() != 2 || !pair.as_array()[0].is_string())
          eval_fail("namespace() expects a dict or a list of [key, value] pairs");
        entries.set(pair.as_array()[0].as_string(), pair.as_array()[1]);
      }
    } else {
      eval_fail("namespace() expects a dict or a list of pairs, got ", init.type_name());
    }
  }
  for (const auto& [k, v] : args.keyword) entries.set(k, v);
  namespaces->push_back(Value::make_namespace(std::move(entries)));
  return namespaces->back();
}

Value dict(CallArgs& args) {
  Object entries;
  if (!args.positional.empty() && args.positional[0].is_object())
    for (const auto& [k, v] : args.positional[0].as_object()) entries.set(k, v);
  for (const auto& [k, v] : args.keyword) entries.set(k, v);
  return Value::object(std::move(entries));
}

Value strftime_now(CallArgs& args) {
  const Value format = args.get(0, "format");
  if (!format.is_string()) eval_fail("strftime_now() needs a format string");
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  std::string buf(format.as_string().size() * 8 + 64, '\0');
  buf.resize(std::strftime(buf.data(), buf.size(), format.as_string().c_str(), &local));
  return Value(std::move(buf));
}

}  // namespace

Object make_globals(std::vector<Value>* namespaces) {
  Object globals;
  globals.append_new("true", Value(true));
  globals.append_new("false", Value(false));
  globals.append_new("none", Value::none());
  globals.append_new("True", Value(true));
  globals.append_new("False", Value(false));
  globals.append_new("None", Value::none());
  globals.append_new("raise_exception", Value::function("raise_exception", raise_exception));
  globals.append_new("range", Value::function("range", range));
  globals.append_new("namespace", Value::function("namespace", [namespaces](CallArgs& args) {
                       return make_namespace(args, namespaces);
                     }));
  globals.append_new("dict", Value::function("dict", dict));
  globals.append_new("strftime_now", Value::function("strftime_now", strftime_now));
  return globals;
}

}  // namespace nibble::tokenizer::jinja
