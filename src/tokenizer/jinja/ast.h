// The parsed form of a template: statements (text, output, if, for, set,
// macro, ...) and the expressions inside them. Nodes are immutable after
// parsing, so one parsed template can be rendered by many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace nibble::tokenizer::jinja {

enum class NodeKind {
  // expressions
  Integer,
  Float,
  String,
  Name,
  List,    // [a, b]
  Tuple,   // (a, b) or a, b
  Dict,    // {k: v}
  Member,  // a.b, a[b], a[1:2]
  Slice,   // only as a Member's property
  Call,
  Unary,
  Binary,
  Filter,
  Test,
  Conditional,  // a if c else b  (a if c: no else)
  // statements
  Text,
  Output,
  If,
  For,
  Set,
  Macro,
  CallBlock,
  FilterBlock,
  Break,
  Continue,
};

struct Node {
  Node(NodeKind k, size_t p) : kind(k), pos(p) {}
  virtual ~Node() = default;
  NodeKind kind;
  size_t pos;  // offset in the original template, for error messages
};
using NodePtr = std::unique_ptr<Node>;
using NodeList = std::vector<NodePtr>;

template <class T>
const T& as(const Node& n) {
  return static_cast<const T&>(n);
}

struct IntegerLiteral : Node {
  IntegerLiteral(size_t p, int64_t v) : Node(NodeKind::Integer, p), value(v) {}
  int64_t value;
};
struct FloatLiteral : Node {
  FloatLiteral(size_t p, double v) : Node(NodeKind::Float, p), value(v) {}
  double value;
};
struct StringLiteral : Node {  // also the Text statement
  StringLiteral(NodeKind k, size_t p, std::string v) : Node(k, p), value(std::move(v)) {}
  std::string value;
};
struct Name : Node {
  Name(size_t p, std::string n) : Node(NodeKind::Name, p), name(std::move(n)) {}
  std::string name;
};
struct Sequence : Node {  // List or Tuple
  Sequence(NodeKind k, size_t p, NodeList v) : Node(k, p), items(std::move(v)) {}
  NodeList items;
};
struct DictLiteral : Node {
  DictLiteral(size_t p) : Node(NodeKind::Dict, p) {}
  std::vector<std::pair<NodePtr, NodePtr>> entries;
};
struct Member : Node {
  Member(size_t p, NodePtr o, NodePtr prop, bool c)
      : Node(NodeKind::Member, p), object(std::move(o)), property(std::move(prop)), computed(c) {}
  NodePtr object;
  NodePtr property;  // a.b: Name "b" (or an Integer for a.0); a[x]: any expression or a Slice
  bool computed;
};
struct Slice : Node {
  Slice(size_t p) : Node(NodeKind::Slice, p) {}
  NodePtr start, stop, step;  // any may be null
};

// One argument of a call: positional, keyword (name=value), *spread or **spread.
struct Argument {
  enum class Kind { Positional, Keyword, Spread, KeywordSpread } kind = Kind::Positional;
  std::string name;  // for Keyword
  NodePtr value;
};
// One macro parameter, with an optional default.
struct Parameter {
  std::string name;
  NodePtr default_value;
};

struct Call : Node {
  Call(size_t p) : Node(NodeKind::Call, p) {}
  NodePtr callee;
  std::vector<Argument> args;
};
struct Unary : Node {
  Unary(size_t p, std::string o, NodePtr a) : Node(NodeKind::Unary, p), op(std::move(o)), operand(std::move(a)) {}
  std::string op;  // "not", "-", "+"
  NodePtr operand;
};
struct Binary : Node {
  Binary(size_t p, std::string o, NodePtr l, NodePtr r)
      : Node(NodeKind::Binary, p), op(std::move(o)), left(std::move(l)), right(std::move(r)) {}
  std::string op;  // and or == != < > <= >= in "not in" + - ~ * / // % **
  NodePtr left, right;
};
struct FilterCall {  // a filter's name and arguments (also used by {% filter %})
  std::string name;
  std::vector<Argument> args;
};
struct Filter : Node {
  Filter(size_t p) : Node(NodeKind::Filter, p) {}
  NodePtr operand;
  FilterCall filter;
};
struct Test : Node {
  Test(size_t p) : Node(NodeKind::Test, p) {}
  NodePtr operand;
  std::string name;
  std::vector<Argument> args;
  bool negate = false;
};
struct Conditional : Node {
  Conditional(size_t p) : Node(NodeKind::Conditional, p) {}
  NodePtr test, if_true, if_false;  // if_false null: undefined when the test fails
};

struct Output : Node {
  Output(size_t p, NodePtr e) : Node(NodeKind::Output, p), expr(std::move(e)) {}
  NodePtr expr;
};
struct If : Node {
  If(size_t p) : Node(NodeKind::If, p) {}
  NodePtr test;
  NodeList body, orelse;
};
struct For : Node {
  For(size_t p) : Node(NodeKind::For, p) {}
  std::vector<std::string> targets;  // one name, or several to unpack
  bool unpack = false;
  NodePtr iterable;
  NodePtr condition;  // {% for x in xs if cond %}
  NodeList body, orelse;
};
struct Set : Node {
  Set(size_t p) : Node(NodeKind::Set, p) {}
  NodePtr target;  // Name, Tuple of Names, or Member (namespace attribute)
  NodePtr value;   // null for a block set: {% set x %}...{% endset %}
  NodeList body;
};
struct Macro : Node {
  Macro(size_t p) : Node(NodeKind::Macro, p) {}
  std::string name;
  std::vector<Parameter> params;
  NodeList body;
};
struct CallBlock : Node {  // {% call(args) macro(...) %}body{% endcall %}
  CallBlock(size_t p) : Node(NodeKind::CallBlock, p) {}
  std::vector<Parameter> caller_params;
  std::unique_ptr<Call> call;
  NodeList body;
};
struct FilterBlock : Node {
  FilterBlock(size_t p) : Node(NodeKind::FilterBlock, p) {}
  FilterCall filter;
  NodeList body;
};

struct Program {
  NodeList body;
};

}  // namespace nibble::tokenizer::jinja
