#include "tokenizer/jinja/parser.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>
#include <string_view>

#include "core/error.h"

namespace nibble::tokenizer::jinja {

namespace {

// Tests that take one argument may be written without parentheses: "x is divisibleby 3".
bool test_takes_argument(const std::string& name) {
  static const std::set<std::string, std::less<>> names = {
      "divisibleby", "equalto", "eq", "==", "ne", "!=", "sameas", "lt", "<", "le", "<=", "gt", ">", "ge", ">=", "in"};
  return names.count(name) > 0;
}

class Parser {
 public:
  Parser(const Source& source, std::vector<Token> tokens) : source_(source), tokens_(std::move(tokens)) {}

  Program run() {
    Program program;
    while (cur_ < tokens_.size()) append(program.body, parse_any());
    return program;
  }

 private:
  // Bounds recursion: each nested construct, and each link of a left-leaning
  // chain (a + b + c, x|f|g, a.b.c), uses one unit of kMaxNesting.
  class Depth {
   public:
    explicit Depth(Parser& p, int initial = 1) : p_(p) {
      for (int i = 0; i < initial; ++i) more();
    }
    ~Depth() { p_.depth_ -= used_; }
    void more() {
      ++used_;
      if (++p_.depth_ > kMaxNesting) p_.error(p_.here(), "template nests deeper than ", kMaxNesting, " levels");
    }

   private:
    Parser& p_;
    int used_ = 0;
  };

  template <class... Args>
  [[noreturn]] void error(size_t pos, const Args&... args) const {
    fail("chat template syntax error at ", source_.where(pos), ": ", args...);
  }

  size_t here() const { return cur_ < tokens_.size() ? tokens_[cur_].pos : source_.original().size(); }
  bool at_end() const { return cur_ >= tokens_.size(); }
  const Token& peek(size_t ahead = 0) const {
    static const Token end{TokenType::Text, "", 0};
    return cur_ + ahead < tokens_.size() ? tokens_[cur_ + ahead] : end;
  }
  bool is(TokenType t, size_t ahead = 0) const {
    return cur_ + ahead < tokens_.size() && tokens_[cur_ + ahead].type == t;
  }
  bool is_name(std::string_view name, size_t ahead = 0) const {
    return is(TokenType::Identifier, ahead) && tokens_[cur_ + ahead].value == name;
  }
  bool is_statement(std::initializer_list<std::string_view> names) const {
    if (!is(TokenType::OpenStatement) || !is(TokenType::Identifier, 1)) return false;
    return std::find(names.begin(), names.end(), tokens_[cur_ + 1].value) != names.end();
  }

  std::string describe_next() const {
    if (at_end()) return "the end of the template";
    const Token& t = tokens_[cur_];
    switch (t.type) {
      case TokenType::Text: return "text";
      case TokenType::Comment: return "a comment";
      case TokenType::String: return "string '" + t.value + "'";
      case TokenType::Number:
      case TokenType::Identifier:
      case TokenType::Additive:
      case TokenType::Multiplicative:
      case TokenType::Comparison:
      case TokenType::UnarySign: return "'" + t.value + "'";
      default: return token_type_name(t.type);
    }
  }

  const Token& expect(TokenType type, const char* what) {
    if (!is(type)) error(here(), "expected ", what, ", got ", describe_next());
    return tokens_[cur_++];
  }
  std::string expect_name(const char* what) { return expect(TokenType::Identifier, what).value; }
  void expect_keyword(std::string_view name) {
    if (!is_name(name)) error(here(), "expected '", name, "', got ", describe_next());
    ++cur_;
  }

  static void append(NodeList& list, NodePtr node) {
    if (node) list.push_back(std::move(node));
  }

  // ---- statements ----

  NodePtr parse_any() {
    const Token& t = tokens_[cur_];
    switch (t.type) {
      case TokenType::Comment: ++cur_; return nullptr;
      case TokenType::Text: ++cur_; return std::make_unique<StringLiteral>(NodeKind::Text, t.pos, t.value);
      case TokenType::OpenStatement: return parse_statement();
      case TokenType::OpenExpression: {
        ++cur_;
        auto expr = parse_expression();
        expect(TokenType::CloseExpression, "'}}'");
        return std::make_unique<Output>(t.pos, std::move(expr));
      }
      default: error(t.pos, "unexpected ", describe_next());
    }
  }

  // Parses statements until {% name %} for one of `enders` (not consumed).
  NodeList parse_body(std::initializer_list<std::string_view> enders, const std::string& opener, size_t opened_at) {
    NodeList body;
    while (!is_statement(enders)) {
      if (at_end()) {
        std::string expected;
        for (auto e : enders) expected += std::string(expected.empty() ? "" : " or ") + "{% " + std::string(e) + " %}";
        error(here(), "'", opener, "' opened at ", source_.where(opened_at), " is not closed: expected ", expected);
      }
      append(body, parse_any());
    }
    return body;
  }

  void parse_end_tag(std::string_view name) {
    expect(TokenType::OpenStatement, "'{%'");
    expect_keyword(name);
    expect(TokenType::CloseStatement, "'%}'");
  }

  NodePtr parse_statement() {
    Depth depth(*this);
    const size_t start = tokens_[cur_].pos;
    ++cur_;  // {%
    if (!is(TokenType::Identifier)) error(here(), "expected a statement name after '{%', got ", describe_next());
    const std::string name = tokens_[cur_++].value;
    if (name == "set") return parse_set(start);
    if (name == "if") {
      auto node = parse_if(start);
      parse_end_tag("endif");
      return node;
    }
    if (name == "for") return parse_for(start);
    if (name == "macro") return parse_macro(start);
    if (name == "call") return parse_call_block(start);
    if (name == "filter") return parse_filter_block(start);
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) error(start, "'", name, "' outside a for loop");
      expect(TokenType::CloseStatement, "'%}'");
      return std::make_unique<Node>(name == "break" ? NodeKind::Break : NodeKind::Continue, start);
    }
    static const std::set<std::string, std::less<>> closers = {"endif",  "elif",     "else",    "endfor",
                                                               "endset", "endmacro", "endcall", "endfilter"};
    if (closers.count(name)) error(start, "unexpected '{% ", name, " %}' with no block open to close");
    error(start, "unknown statement '", name, "'");
  }

  NodePtr parse_set(size_t start) {
    auto node = std::make_unique<Set>(start);
    node->target = parse_expression_sequence();
    check_assignable(*node->target);
    if (is(TokenType::Equals)) {
      ++cur_;
      node->value = parse_expression_sequence();
      expect(TokenType::CloseStatement, "'%}'");
    } else {
      expect(TokenType::CloseStatement, "'=' or '%}'");
      node->body = parse_body({"endset"}, "set", start);
      parse_end_tag("endset");
    }
    return node;
  }

  void check_assignable(const Node& target) const {
    if (target.kind == NodeKind::Name) return;
    if (target.kind == NodeKind::Tuple) {
      for (const auto& item : as<Sequence>(target).items)
        if (item->kind != NodeKind::Name) error(item->pos, "can only unpack into plain names");
      return;
    }
    if (target.kind == NodeKind::Member) {
      const auto& m = as<Member>(target);
      if (!m.computed && m.property->kind == NodeKind::Name) return;
    }
    error(target.pos, "cannot assign to this expression (expected a name, names, or namespace.attribute)");
  }

  // After "if"/"elif": test, body, then elif (nested If) or else; stops before {% endif %}.
  std::unique_ptr<If> parse_if(size_t start) {
    auto node = std::make_unique<If>(start);
    node->test = parse_expression();
    expect(TokenType::CloseStatement, "'%}'");
    node->body = parse_body({"elif", "else", "endif"}, "if", start);
    if (is_statement({"elif"})) {
      const size_t elif_pos = tokens_[cur_].pos;
      cur_ += 2;
      Depth depth(*this);
      node->orelse.push_back(parse_if(elif_pos));
    } else if (is_statement({"else"})) {
      cur_ += 2;
      expect(TokenType::CloseStatement, "'%}'");
      node->orelse = parse_body({"endif"}, "if", start);
    }
    return node;
  }

  NodePtr parse_for(size_t start) {
    auto node = std::make_unique<For>(start);
    const bool paren = is(TokenType::OpenParen);
    if (paren) ++cur_;
    node->targets.push_back(expect_name("a loop variable name"));
    while (is(TokenType::Comma)) {
      ++cur_;
      node->targets.push_back(expect_name("a loop variable name"));
    }
    node->unpack = node->targets.size() > 1 || paren;
    if (paren) expect(TokenType::CloseParen, "')'");
    expect_keyword("in");
    auto iterable = parse_expression();
    if (iterable->kind == NodeKind::Conditional && !as<Conditional>(*iterable).if_false) {
      // {% for x in xs if cond %}: the "if" filters items.
      auto& cond = static_cast<Conditional&>(*iterable);
      node->iterable = std::move(cond.if_true);
      node->condition = std::move(cond.test);
    } else {
      node->iterable = std::move(iterable);
    }
    expect(TokenType::CloseStatement, "'%}'");
    ++loop_depth_;
    node->body = parse_body({"endfor", "else"}, "for", start);
    --loop_depth_;
    if (is_statement({"else"})) {
      cur_ += 2;
      expect(TokenType::CloseStatement, "'%}'");
      node->orelse = parse_body({"endfor"}, "for", start);
    }
    parse_end_tag("endfor");
    return node;
  }

  NodePtr parse_macro(size_t start) {
    auto node = std::make_unique<Macro>(start);
    node->name = expect_name("a macro name");
    node->params = parse_parameters();
    expect(TokenType::CloseStatement, "'%}'");
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    node->body = parse_body({"endmacro"}, "macro", start);
    loop_depth_ = saved_loops;
    parse_end_tag("endmacro");
    return node;
  }

  NodePtr parse_call_block(size_t start) {
    auto node = std::make_unique<CallBlock>(start);
    if (is(TokenType::OpenParen)) node->caller_params = parse_parameters();
    const size_t callee_pos = here();
    auto call = std::make_unique<Call>(callee_pos);
    call->callee = std::make_unique<Name>(callee_pos, expect_name("a macro name after 'call'"));
    call->args = parse_arguments();
    node->call = std::move(call);
    expect(TokenType::CloseStatement, "'%}'");
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    node->body = parse_body({"endcall"}, "call", start);
    loop_depth_ = saved_loops;
    parse_end_tag("endcall");
    return node;
  }

  NodePtr parse_filter_block(size_t start) {
    auto node = std::make_unique<FilterBlock>(start);
    node->filter.name = expect_name("a filter name");
    if (is(TokenType::OpenParen)) node->filter.args = parse_arguments();
    expect(TokenType::CloseStatement, "'%}'");
    node->body = parse_body({"endfilter"}, "filter", start);
    parse_end_tag("endfilter");
    return node;
  }

  std::vector<Parameter> parse_parameters() {
    expect(TokenType::OpenParen, "'(' and the parameter list");
    std::vector<Parameter> params;
    bool saw_default = false;
    while (!is(TokenType::CloseParen)) {
      const size_t pos = here();
      Parameter p;
      p.name = expect_name("a parameter name");
      for (const auto& other : params)
        if (other.name == p.name) error(pos, "duplicate parameter '", p.name, "'");
      if (is(TokenType::Equals)) {
        ++cur_;
        p.default_value = parse_expression();
        saw_default = true;
      } else if (saw_default) {
        error(pos, "parameter '", p.name, "' without a default follows one with a default");
      }
      params.push_back(std::move(p));
      if (!is(TokenType::Comma)) break;
      ++cur_;
    }
    expect(TokenType::CloseParen, "',' or ')'");
    return params;
  }

  std::vector<Argument> parse_arguments() {
    expect(TokenType::OpenParen, "'('");
    std::vector<Argument> args;
    bool saw_keyword = false;
    while (!is(TokenType::CloseParen)) {
      const size_t pos = here();
      Argument a;
      if (is(TokenType::Power)) {
        ++cur_;
        a.kind = Argument::Kind::KeywordSpread;
        a.value = parse_expression();
        saw_keyword = true;
      } else if (is(TokenType::Multiplicative) && peek().value == "*") {
        ++cur_;
        a.kind = Argument::Kind::Spread;
        a.value = parse_expression();
      } else {
        if (is(TokenType::Identifier) && is(TokenType::Equals, 1)) {
          a.kind = Argument::Kind::Keyword;
          a.name = tokens_[cur_].value;
          cur_ += 2;
          saw_keyword = true;
        } else if (saw_keyword) {
          error(pos, "positional argument follows keyword argument");
        }
        a.value = parse_expression();
      }
      args.push_back(std::move(a));
      if (!is(TokenType::Comma)) break;
      ++cur_;
    }
    expect(TokenType::CloseParen, "',' or ')'");
    return args;
  }

  // ---- expressions ----

  NodePtr parse_expression_sequence() {
    const size_t start = here();
    auto first = parse_expression();
    if (!is(TokenType::Comma)) return first;
    NodeList items;
    items.push_back(std::move(first));
    while (is(TokenType::Comma)) {
      ++cur_;
      if (is(TokenType::CloseParen) || is(TokenType::Equals) || is(TokenType::CloseStatement)) break;  // (a, )
      items.push_back(parse_expression());
    }
    return std::make_unique<Sequence>(NodeKind::Tuple, start, std::move(items));
  }

  NodePtr parse_expression() {
    Depth depth(*this);
    return parse_conditional();
  }

  NodePtr parse_conditional() {
    auto value = parse_or();
    if (!is_name("if")) return value;
    auto node = std::make_unique<Conditional>(tokens_[cur_].pos);
    ++cur_;
    node->if_true = std::move(value);
    node->test = parse_or();
    if (is_name("else")) {
      ++cur_;
      Depth depth(*this);
      node->if_false = parse_conditional();
    }
    return node;
  }

  NodePtr binary(const Token& op_token, std::string op, NodePtr left, NodePtr right) {
    return std::make_unique<Binary>(op_token.pos, std::move(op), std::move(left), std::move(right));
  }

  NodePtr parse_or() {
    Depth depth(*this, 0);
    auto left = parse_and();
    while (is_name("or")) {
      depth.more();
      const Token& op = tokens_[cur_++];
      left = binary(op, "or", std::move(left), parse_and());
    }
    return left;
  }

  NodePtr parse_and() {
    Depth depth(*this, 0);
    auto left = parse_not();
    while (is_name("and")) {
      depth.more();
      const Token& op = tokens_[cur_++];
      left = binary(op, "and", std::move(left), parse_not());
    }
    return left;
  }

  NodePtr parse_not() {
    if (!is_name("not")) return parse_comparison();
    Depth depth(*this);
    const size_t pos = tokens_[cur_++].pos;
    return std::make_unique<Unary>(pos, "not", parse_not());
  }

  NodePtr parse_comparison() {
    Depth depth(*this, 0);
    auto left = parse_additive();
    while (true) {
      std::string op;
      const Token& t = peek();
      if (is_name("not") && is_name("in", 1)) {
        op = "not in";
        cur_ += 2;
      } else if (is_name("in") || is(TokenType::Comparison)) {
        op = t.value;
        ++cur_;
      } else {
        break;
      }
      depth.more();
      left = binary(t, op, std::move(left), parse_additive());
    }
    return left;
  }

  NodePtr parse_additive() {
    Depth depth(*this, 0);
    auto left = parse_multiplicative();
    while (is(TokenType::Additive)) {
      depth.more();
      const Token& op = tokens_[cur_++];
      left = binary(op, op.value, std::move(left), parse_multiplicative());
    }
    return left;
  }

  NodePtr parse_multiplicative() {
    Depth depth(*this, 0);
    auto left = parse_power();
    while (is(TokenType::Multiplicative)) {
      depth.more();
      const Token& op = tokens_[cur_++];
      left = binary(op, op.value, std::move(left), parse_power());
    }
    return left;
  }

  NodePtr parse_power() {
    Depth depth(*this, 0);
    auto left = parse_test();
    while (is(TokenType::Power)) {
      depth.more();
      const Token& op = tokens_[cur_++];
      left = binary(op, "**", std::move(left), parse_test());
    }
    return left;
  }

  NodePtr parse_test() {
    Depth depth(*this, 0);
    auto operand = parse_filter();
    while (is_name("is")) {
      depth.more();
      auto node = std::make_unique<Test>(tokens_[cur_].pos);
      ++cur_;
      if (is_name("not")) {
        node->negate = true;
        ++cur_;
      }
      if (is(TokenType::Comparison)) {
        node->name = tokens_[cur_++].value;
      } else {
        node->name = expect_name("a test name after 'is'");
      }
      if (is(TokenType::OpenParen)) {
        node->args = parse_arguments();
      } else if (test_takes_argument(node->name) &&
                 (is(TokenType::Number) || is(TokenType::String) ||
                  (is(TokenType::Identifier) && !is_name("and") && !is_name("or") && !is_name("else") &&
                   !is_name("if") && !is_name("not") && !is_name("in") && !is_name("is")))) {
        Argument a;
        a.value = parse_primary();
        node->args.push_back(std::move(a));
      }
      node->operand = std::move(operand);
      operand = std::move(node);
    }
    return operand;
  }

  NodePtr parse_filter() {
    Depth depth(*this, 0);
    auto operand = parse_unary_sign();
    while (is(TokenType::Pipe)) {
      depth.more();
      auto node = std::make_unique<Filter>(tokens_[cur_].pos);
      ++cur_;
      node->filter.name = expect_name("a filter name after '|'");
      if (is(TokenType::OpenParen)) node->filter.args = parse_arguments();
      node->operand = std::move(operand);
      operand = std::move(node);
    }
    return operand;
  }

  NodePtr parse_unary_sign() {
    if ((is(TokenType::UnarySign) || is(TokenType::Additive)) && (peek().value == "-" || peek().value == "+")) {
      Depth depth(*this);
      const Token& op = tokens_[cur_++];
      return std::make_unique<Unary>(op.pos, op.value, parse_unary_sign());
    }
    return parse_postfix(parse_primary());
  }

  // .attr, [index], [a:b:c] and (call) after a primary, in any order.
  NodePtr parse_postfix(NodePtr object) {
    Depth depth(*this, 0);
    while (true) {
      if (is(TokenType::Dot)) {
        depth.more();
        const size_t pos = tokens_[cur_++].pos;
        NodePtr property;
        if (is(TokenType::Identifier)) {
          property = std::make_unique<Name>(here(), tokens_[cur_].value);
          ++cur_;
        } else if (is(TokenType::Number) && peek().value.find_first_of(".-+") == std::string::npos) {
          property = parse_primary();
        } else {
          error(here(), "expected an attribute name after '.', got ", describe_next());
        }
        object = std::make_unique<Member>(pos, std::move(object), std::move(property), false);
      } else if (is(TokenType::OpenBracket)) {
        depth.more();
        const size_t pos = tokens_[cur_++].pos;
        auto property = parse_subscript(pos);
        expect(TokenType::CloseBracket, "']'");
        object = std::make_unique<Member>(pos, std::move(object), std::move(property), true);
      } else if (is(TokenType::OpenParen)) {
        depth.more();
        auto call = std::make_unique<Call>(tokens_[cur_].pos);
        call->callee = std::move(object);
        call->args = parse_arguments();
        object = std::move(call);
      } else {
        return object;
      }
    }
  }

  // Inside [...]: an index expression or a slice start:stop:step.
  NodePtr parse_subscript(size_t pos) {
    NodePtr parts[3];
    int n = 0;
    bool slice = false;
    while (!is(TokenType::CloseBracket)) {
      if (at_end()) error(here(), "expected ']'");
      if (n == 3) error(here(), "a slice takes at most 3 parts");
      if (is(TokenType::Colon)) {
        ++cur_;
        ++n;
        slice = true;
      } else {
        parts[n] = parse_expression();
        if (is(TokenType::Colon)) {
          ++cur_;
          slice = true;
          ++n;
        } else if (!is(TokenType::CloseBracket)) {
          error(here(), "expected ':' or ']', got ", describe_next());
        } else {
          ++n;
        }
      }
    }
    if (n == 0) error(pos, "expected an index or slice inside '[]'");
    if (!slice) return std::move(parts[0]);
    auto s = std::make_unique<Slice>(pos);
    s->start = std::move(parts[0]);
    s->stop = std::move(parts[1]);
    s->step = std::move(parts[2]);
    return s;
  }

  NodePtr parse_primary() {
    if (at_end()) error(here(), "unexpected end of the template inside an expression");
    const Token& t = tokens_[cur_++];
    switch (t.type) {
      case TokenType::Number: return number(t);
      case TokenType::String: {
        std::string value = t.value;
        while (is(TokenType::String)) value += tokens_[cur_++].value;  // "a" "b" == "ab"
        return std::make_unique<StringLiteral>(NodeKind::String, t.pos, std::move(value));
      }
      case TokenType::Identifier: return std::make_unique<Name>(t.pos, t.value);
      case TokenType::OpenParen: {
        Depth depth(*this);
        if (is(TokenType::CloseParen)) {  // ()
          ++cur_;
          return std::make_unique<Sequence>(NodeKind::Tuple, t.pos, NodeList{});
        }
        auto inner = parse_expression_sequence();
        expect(TokenType::CloseParen, "')'");
        return inner;
      }
      case TokenType::OpenBracket: {
        Depth depth(*this);
        NodeList items;
        while (!is(TokenType::CloseBracket)) {
          items.push_back(parse_expression());
          if (!is(TokenType::Comma)) break;
          ++cur_;
        }
        expect(TokenType::CloseBracket, "',' or ']'");
        return std::make_unique<Sequence>(NodeKind::List, t.pos, std::move(items));
      }
      case TokenType::OpenBrace: {
        Depth depth(*this);
        auto dict = std::make_unique<DictLiteral>(t.pos);
        while (!is(TokenType::CloseBrace)) {
          auto key = parse_expression();
          expect(TokenType::Colon, "':' between a key and its value");
          auto value = parse_expression();
          dict->entries.emplace_back(std::move(key), std::move(value));
          if (!is(TokenType::Comma)) break;
          ++cur_;
        }
        expect(TokenType::CloseBrace, "',' or '}'");
        return dict;
      }
      default: --cur_; error(t.pos, "expected an expression, got ", describe_next());
    }
  }

  NodePtr number(const Token& t) {
    const std::string& s = t.value;
    if (s.find('.') == std::string::npos) {
      int64_t v = 0;
      const char* first = s.data() + (s[0] == '+' ? 1 : 0);
      const auto r = std::from_chars(first, s.data() + s.size(), v);
      if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return std::make_unique<IntegerLiteral>(t.pos, v);
    }
    return std::make_unique<FloatLiteral>(t.pos, std::strtod(s.c_str(), nullptr));
  }

  const Source& source_;
  std::vector<Token> tokens_;
  size_t cur_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Program parse(const Source& source, std::vector<Token> tokens) { return Parser(source, std::move(tokens)).run(); }

}  // namespace nibble::tokenizer::jinja
