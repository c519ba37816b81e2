// nibble's Jinja interpreter on its own: error messages with line and
// column, and the bounds that keep a hostile template from crashing or
// hanging a server. (Output is checked against @huggingface/jinja in
// chat_template_test.cpp.)
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "tokenizer/jinja/convert.h"
#include "tokenizer/jinja/errors.h"
#include "tokenizer/jinja/template.h"

namespace nibble::tokenizer::jinja {
namespace {

std::string render(const std::string& text, const nlohmann::ordered_json& vars = nlohmann::ordered_json::object()) {
  Object variables;
  for (const auto& [k, v] : vars.items()) variables.set(k, from_json(v));
  return Template(text).render(variables);
}

// The message of the Error that parsing or rendering `text` throws.
std::string error_of(const std::string& text) {
  try {
    render(text);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for: " << text.substr(0, 200);
  return "";
}

void expect_error(const std::string& text, const std::string& expected) {
  const std::string message = error_of(text);
  EXPECT_NE(message.find(expected), std::string::npos)
      << "template: " << text.substr(0, 200) << "\nerror: " << message << "\nexpected: " << expected;
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST(JinjaSyntaxError, NamesLineAndColumn) {
  expect_error("line one\nline two {{ x + }}", "line 2, column 17: expected an expression, got '}}'");
  expect_error("{{ 'never closed }}", "line 1, column 4: string literal is not closed");
  expect_error("a\n  {% if x %}\n  body", "'if' opened at line 2, column 3 is not closed: expected {% elif %}");
  expect_error("{% for x in y %}{% endif %}", "line 1, column 17");
  expect_error("{% endfor %}", "line 1, column 1: unexpected '{% endfor %}' with no block open to close");
  expect_error("{% frobnicate %}", "unknown statement 'frobnicate'");
  expect_error("{{ a ! b }}", "line 1, column 6: unexpected character '!'");
  expect_error("x\n\n{# no end", "line 3, column 1: comment is not closed");
  expect_error("{% break %}", "'break' outside a for loop");
  expect_error("{% set 1 = 2 %}", "cannot assign");
  expect_error("{% macro m(a=1, b) %}{% endmacro %}", "without a default follows");
  expect_error("{{ f(a=1, 2) }}", "positional argument follows keyword argument");
  // Columns count characters, not bytes.
  expect_error("ünïcödé {{ ) }}", "line 1, column 12");
}

TEST(JinjaRuntimeError, NamesLineAndColumn) {
  expect_error("{{ 1 }}\n  {{ 'x' | nosuch }}", "chat template error at line 2, column 10: unknown filter 'nosuch'");
  expect_error("{{ 1 + none }}", "line 1, column 6: cannot use '+' with none");
  expect_error("{% for a, b in [1] %}{% endfor %}", "cannot unpack integer into 2 loop variables");
  expect_error("{% set x = 1 %}{% set x.y = 2 %}", "only on a namespace()");
  expect_error("{{ 1 / 0 }}", "division by zero");
  expect_error("{{ foo() }}", "'foo' is undefined, not a function");
  expect_error("{{ [1][::0] }}", "slice step cannot be zero");
}

TEST(JinjaRaiseException, IsATemplateRaisedError) {
  try {
    render("{% if true %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}");
    FAIL();
  } catch (const TemplateRaisedError& e) {
    EXPECT_NE(std::string(e.what()).find("Only user and assistant roles are supported!"), std::string::npos);
  }
}

TEST(JinjaLimits, DeepNestingIsRefusedWithoutCrashing) {
  const size_t deep = 20000;
  expect_error("{{ " + repeat("(", deep) + "1" + repeat(")", deep) + " }}", "nests deeper than");
  expect_error("{{ " + repeat("[", deep) + repeat("]", deep) + " }}", "nests deeper than");
  expect_error("{{ " + repeat("-", deep) + "1 }}", "nests deeper than");
  expect_error("{{ " + repeat("not ", deep) + "1 }}", "nests deeper than");
  expect_error(repeat("{% if true %}", deep) + repeat("{% endif %}", deep), "nests deeper than");
  expect_error("{{ 1" + repeat(" + 1", deep) + " }}", "nests deeper than");
  expect_error("{{ x" + repeat("|trim", deep) + " }}", "nests deeper than");
  expect_error("{{ x" + repeat(".a", deep) + " }}", "nests deeper than");
  expect_error("{{ 'a' if x else" + repeat(" 'a' if x else", deep) + " 'b' }}", "nests deeper than");
  // Recursion through macros counts too.
  expect_error("{% macro f(n) %}{% if n < 30 %}{{ " + repeat("[", 55) + "f(n + 1)" + repeat("]", 55) +
                   " }}{% endif %}{% endmacro %}{{ f(0) }}",
               "levels at run time");
  // Reasonable depths are fine.
  EXPECT_EQ(render("{{ " + repeat("(", 40) + "7" + repeat(")", 40) + " }}"), "7");
  EXPECT_EQ(render(repeat("{% if true %}", 100) + "in" + repeat("{% endif %}", 100)), "in");
  EXPECT_EQ(render("{{ 1" + repeat(" + 1", 100) + " }}"), "101");
}

TEST(JinjaLimits, HugeTemplateIsRefused) {
  const std::string huge(17u << 20, 'x');
  expect_error(huge, "at most");
}

TEST(JinjaLimits, RunawayLoopsAndRecursionStop) {
  const auto start = std::chrono::steady_clock::now();
  expect_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "steps");
  expect_error("{{ range(1000000000) | length }}", "range() longer than");
  expect_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "macro calls nest deeper than");
  expect_error("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
               "exceeds the limit");
  expect_error("{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}",
               "exceeds the limit");
  expect_error("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns | tojson }}", "nests deeper than");
  expect_error("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}", "nests deeper than");
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 20.0);
}

TEST(JinjaLimits, DeeplyNestedInputIsRefused) {
  nlohmann::ordered_json v = 1;
  for (int i = 0; i < 1000; ++i) v = nlohmann::ordered_json::array({v});
  EXPECT_THROW(render("{{ v }}", {{"v", v}}), Error);
}

TEST(Jinja, ArithmeticEdgesDoNotOverflow) {
  EXPECT_EQ(render("{{ [1, 2, 3][2::9223372036854775807] }} {{ [1, 2, 3][::-9223372036854775807] }}"), "[3] [3]");
  EXPECT_EQ(render("{{ range(0, 9223372036854775807, 4611686018427387904) | length }}"), "2");
  EXPECT_EQ(render("{{ 9223372036854775807 + 1 }} {{ (-9223372036854775807 - 1) // -1 }}"),
            "9223372036854775808.0 9223372036854775808.0");
  EXPECT_EQ(render("{{ 9007199254740993 + 0 }} {{ -7 // 2 }} {{ -7 % 3 }}"), "9007199254740993 -4 2");
  expect_error("{{ (10.0 ** 300) | int }}", "cannot convert");
}

TEST(Jinja, ScopesFollowJinja) {
  // Loop bodies get their own scope; if does not; namespaces carry values out.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1, 2] %}{% set x = i %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(render("{% if true %}{% set x = 2 %}{% endif %}{{ x }}"), "2");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in [1, 2, 3] %}{% set ns.n = ns.n + i %}{% endfor %}"
                   "{{ ns.n }}"),
            "6");
  EXPECT_EQ(render("{% macro m() %}{{ g }}{% endmacro %}{% set g = 'late' %}{{ m() }}"), "late");
}

TEST(Jinja, ExtensionsBeyondTheHubsRenderer) {
  // Jinja2 features @huggingface/jinja lacks; nibble accepts them.
  EXPECT_EQ(render("{{ 9 is divisibleby(3) }} {{ 9 is divisibleby 4 }} {{ () | length }} {{ (1,) }}"),
            "true false 0 [1]");
  EXPECT_EQ(render("{{ {'a': 1, 'b': 2} | list }} {{ 'ab' | list }} {{ [1, 2, 3] | select('odd') | list }}"),
            "[\"a\", \"b\"] [\"a\", \"b\"] [1, 3]");
  EXPECT_EQ(render("{{ [1, 2, 3] | sum }} {{ [3, 1] | max }} {{ ['x', 'y'] | map('upper') | join }}"), "6 3 XY");
  EXPECT_EQ(render("{% for c in 'ab' %}{{ loop.cycle('+', '-') }}{{ c }}{% endfor %}"), "+a-b");
  EXPECT_EQ(render("{% for t in undefined_tools %}x{% endfor %}[{{ 'a' ~ undefined_thing }}]"), "[a]");
  EXPECT_EQ(render("{{ ', '.join(['a', 'b']) }} {{ 'a<b' | e }} {{ 2 * 'ab' }}"), "a, b a&lt;b abab");
  EXPECT_EQ(render("{% macro m() %}{{ varargs | length }}{{ kwargs.k }}{% endmacro %}{{ m(1, 2, k='v') }}"), "2v");
}

TEST(Jinja, StringMethodsHonourTheirArgumentsAsPythonDoes) {
  EXPECT_EQ(render("[{{ '\\n  x  \\n'.strip('\\n') }}]"), "[  x  ]");
  EXPECT_EQ(render("[{{ 'xxaxx'.lstrip('x') }}|{{ 'xxaxx'.rstrip('x') }}]"), "[axx|xxa]");
  EXPECT_EQ(render("{{ 'hELLO wORLD' | capitalize }} {{ 'hELLO wORLD'.title() }}"), "Hello world Hello World");
  EXPECT_EQ(render("{{ 'a-b-c'.split('-', 1) }}"), "[\"a\", \"b-c\"]");
}

}  // namespace
}  // namespace nibble::tokenizer::jinja
