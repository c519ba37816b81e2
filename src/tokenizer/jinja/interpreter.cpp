#include "tokenizer/jinja/interpreter.h"

#include <memory>
#include <unordered_map>

#include "core/error.h"
#include "tokenizer/jinja/convert.h"
#include "tokenizer/jinja/errors.h"
#include "tokenizer/jinja/filters.h"
#include "tokenizer/jinja/globals.h"
#include "tokenizer/jinja/limits.h"
#include "tokenizer/jinja/operators.h"
#include "tokenizer/jinja/predicates.h"
#include "tokenizer/jinja/text.h"

namespace nibble::tokenizer::jinja {

namespace {

class Scope {
 public:
  explicit Scope(std::shared_ptr<Scope> parent) : parent_(std::move(parent)) {}
  const Value* lookup(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent_.get()) {
      auto it = s->vars_.find(name);
      if (it != s->vars_.end()) return &it->second;
    }
    return nullptr;
  }
  void set(const std::string& name, Value v) { vars_[name] = std::move(v); }
  void clear() { vars_.clear(); }

 private:
  std::shared_ptr<Scope> parent_;
  std::unordered_map<std::string, Value> vars_;
};
using ScopePtr = std::shared_ptr<Scope>;

enum class Flow { Normal, Break, Continue };

// How many values `v` holds (itself included).
size_t count_values(const Value& v) {
  size_t n = 1;
  if (v.is_array()) {
    for (const Value& x : v.as_array()) n += count_values(x);
  } else if (v.is_object()) {
    for (const auto& e : v.as_object()) n += count_values(e.second);
  }
  return n;
}

class Interpreter {
 public:
  explicit Interpreter(const Source& source) : source_(source) {}

  ~Interpreter() {
    // Macros hold their defining scope and namespaces can hold themselves;
    // emptying them breaks the reference cycles.
    for (auto& s : scopes_with_macros_) s->clear();
    for (auto& ns : namespaces_) ns.namespace_entries().clear();
  }

  std::string run(const Program& program, const Object& variables) {
    auto root = std::make_shared<Scope>(nullptr);
    scopes_with_macros_.push_back(root);
    for (const auto& [name, value] : make_globals(&namespaces_)) root->set(name, value);
    for (const auto& [name, value] : variables) {
      root->set(name, value);
      max_steps_ += kStepsPerInputValue * count_values(value);
    }
    std::string out;
    exec_block(program.body, root, out);
    return out;
  }

 private:
  // ---- bookkeeping ----

  [[noreturn]] void located_fail(const Node& n, const std::string& message) const {
    fail("chat template error at ", source_.where(n.pos), ": ", message);
  }

  struct DepthGuard {
    explicit DepthGuard(int& d) : d_(d) {
      if (++d_ > kMaxEvalDepth) eval_fail("template nests deeper than ", kMaxEvalDepth, " levels at run time");
    }
    ~DepthGuard() { --d_; }
    int& d_;
  };

  void step() {
    if (++steps_ > max_steps_) eval_fail("template ran more than ", max_steps_, " steps; is a loop unbounded?");
  }

  static void append(std::string& out, const std::string& s) {
    if (out.size() + s.size() > kMaxTextBytes) eval_fail("template output exceeds ", kMaxTextBytes, " bytes");
    out += s;
  }

  static const Value& checked(const Value& v) {
    if (v.is_string() && v.as_string().size() > kMaxTextBytes)
      eval_fail("string of ", v.as_string().size(), " bytes exceeds the limit of ", kMaxTextBytes);
    if (v.is_array() && v.as_array().size() > kMaxListItems)
      eval_fail("list of ", v.as_array().size(), " items exceeds the limit of ", kMaxListItems);
    return v;
  }

  // ---- statements ----

  Flow exec_block(const NodeList& body, const ScopePtr& scope, std::string& out) {
    for (const auto& stmt : body) {
      const Flow f = exec(*stmt, scope, out);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  Flow exec(const Node& n, const ScopePtr& scope, std::string& out) {
    try {
      DepthGuard depth(depth_);
      step();
      switch (n.kind) {
        case NodeKind::Text: append(out, as<StringLiteral>(n).value); return Flow::Normal;
        case NodeKind::Output: append(out, to_text(eval(*as<Output>(n).expr, scope))); return Flow::Normal;
        case NodeKind::If: {
          const auto& s = as<If>(n);
          return exec_block(eval(*s.test, scope).truthy() ? s.body : s.orelse, scope, out);
        }
        case NodeKind::For: return exec_for(as<For>(n), scope, out);
        case NodeKind::Set: exec_set(as<Set>(n), scope); return Flow::Normal;
        case NodeKind::Macro: {
          const auto& m = as<Macro>(n);
          ScopePtr def = scope;
          scope->set(m.name, Value::function(m.name, [this, &m, def](CallArgs& args) {
                       return call_macro(m.params, m.body, def, args);
                     }));
          scopes_with_macros_.push_back(scope);
          return Flow::Normal;
        }
        case NodeKind::CallBlock: exec_call_block(as<CallBlock>(n), scope, out); return Flow::Normal;
        case NodeKind::FilterBlock: {
          const auto& f = as<FilterBlock>(n);
          std::string body;
          exec_block(f.body, scope, body);
          append(
              out,
              to_text(checked(apply_filter(f.filter.name, Value(std::move(body)), eval_args(f.filter.args, scope)))));
          return Flow::Normal;
        }
        case NodeKind::Break: return Flow::Break;
        case NodeKind::Continue: return Flow::Continue;
        default: append(out, to_text(eval(n, scope))); return Flow::Normal;
      }
    } catch (const EvalFailure& e) {
      located_fail(n, e.message);
    }
  }

  Array iteration_items(const Value& v) {
    if (v.is_array()) return v.as_array();
    if (v.is_object()) {
      Array keys;
      for (const auto& e : v.as_object()) keys.emplace_back(e.first);
      return keys;
    }
    if (v.is_string()) {
      Array chars;
      for (auto& c : split_code_points(v.as_string())) chars.emplace_back(std::move(c));
      return chars;
    }
    if (v.is_undefined()) return {};
    eval_fail("cannot loop over ", v.type_name());
  }

  static void bind_loop_targets(const For& f, Scope& scope, const Value& item) {
    if (!f.unpack) {
      scope.set(f.targets[0], item);
      return;
    }
    if (!item.is_array()) eval_fail("cannot unpack ", item.type_name(), " into ", f.targets.size(), " loop variables");
    const Array& parts = item.as_array();
    if (parts.size() != f.targets.size())
      eval_fail("too ", parts.size() < f.targets.size() ? "few" : "many", " items to unpack: ", parts.size(), " for ",
                f.targets.size(), " loop variables");
    for (size_t i = 0; i < parts.size(); ++i) scope.set(f.targets[i], parts[i]);
  }

  Flow exec_for(const For& f, const ScopePtr& scope, std::string& out) {
    auto loop_scope = std::make_shared<Scope>(scope);
    Value iterable = eval(*f.iterable, loop_scope);
    if (!iterable.is_array()) iterable = Value::array(iteration_items(iterable));
    if (f.condition) {
      Array kept;
      for (const Value& item : iterable.as_array()) {
        step();
        auto item_scope = std::make_shared<Scope>(loop_scope);
        bind_loop_targets(f, *item_scope, item);
        if (eval(*f.condition, item_scope).truthy()) kept.push_back(item);
      }
      iterable = Value::array(std::move(kept));
    }
    const Array& items = iterable.as_array();
    if (items.empty()) return exec_block(f.orelse, loop_scope, out);
    const int64_t n = static_cast<int64_t>(items.size());
    auto index = std::make_shared<int64_t>(0);
    const Value cycle = Value::function("cycle", [index](CallArgs& args) {
      if (args.positional.empty()) eval_fail("loop.cycle() needs at least one argument");
      return args.positional[static_cast<size_t>(*index) % args.positional.size()];
    });
    for (int64_t i = 0; i < n; ++i) {
      step();
      *index = i;
      Object loop;
      loop.reserve(10);
      loop.append_new("index", Value(i + 1));
      loop.append_new("index0", Value(i));
      loop.append_new("revindex", Value(n - i));
      loop.append_new("revindex0", Value(n - i - 1));
      loop.append_new("first", Value(i == 0));
      loop.append_new("last", Value(i == n - 1));
      loop.append_new("length", Value(n));
      loop.append_new("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value());
      loop.append_new("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value());
      loop.append_new("cycle", cycle);
      loop_scope->set("loop", Value::object(std::move(loop)));
      bind_loop_targets(f, *loop_scope, items[static_cast<size_t>(i)]);
      if (exec_block(f.body, loop_scope, out) == Flow::Break) break;
    }
    return Flow::Normal;
  }

  void exec_set(const Set& s, const ScopePtr& scope) {
    Value value;
    if (s.value) {
      value = eval(*s.value, scope);
    } else {
      std::string body;
      exec_block(s.body, scope, body);
      value = Value(std::move(body));
    }
    const Node& target = *s.target;
    if (target.kind == NodeKind::Name) {
      scope->set(as<Name>(target).name, std::move(value));
    } else if (target.kind == NodeKind::Tuple) {
      const auto& names = as<Sequence>(target).items;
      if (!value.is_array()) eval_fail("cannot unpack ", value.type_name(), " into ", names.size(), " names");
      const Array& parts = value.as_array();
      if (parts.size() != names.size())
        eval_fail("too ", parts.size() < names.size() ? "few" : "many", " items to unpack: ", parts.size(), " for ",
                  names.size(), " names");
      for (size_t i = 0; i < names.size(); ++i) scope->set(as<Name>(*names[i]).name, parts[i]);
    } else {
      const auto& m = as<Member>(target);
      const Value object = eval(*m.object, scope);
      if (!object.is_namespace())
        eval_fail("cannot set an attribute on a ", object.type_name(), "; only on a namespace()");
      object.namespace_entries().set(as<Name>(*m.property).name, std::move(value));
    }
  }

  Value call_macro(const std::vector<Parameter>& params, const NodeList& body, const ScopePtr& def, CallArgs& args) {
    if (call_depth_ >= kMaxCallDepth) eval_fail("macro calls nest deeper than ", kMaxCallDepth, " levels");
    ++call_depth_;
    struct Restore {
      int& d;
      ~Restore() { --d; }
    } restore{call_depth_};
    auto scope = std::make_shared<Scope>(def);
    std::vector<bool> bound(params.size(), false);
    for (size_t i = 0; i < params.size() && i < args.positional.size(); ++i) {
      scope->set(params[i].name, args.positional[i]);
      bound[i] = true;
    }
    Object extra;
    for (const auto& [k, v] : args.keyword) {
      bool matched = false;
      for (size_t i = 0; i < params.size(); ++i) {
        if (params[i].name != k) continue;
        if (bound[i]) eval_fail("macro got multiple values for argument '", k, "'");
        scope->set(k, v);
        bound[i] = matched = true;
      }
      if (matched) continue;
      if (k == "caller") {
        scope->set("caller", v);
      } else {
        extra.set(k, v);
      }
    }
    Array varargs;
    for (size_t i = params.size(); i < args.positional.size(); ++i) varargs.push_back(args.positional[i]);
    scope->set("varargs", Value::array(std::move(varargs)));
    scope->set("kwargs", Value::object(std::move(extra)));
    for (size_t i = 0; i < params.size(); ++i) {
      if (bound[i]) continue;
      scope->set(params[i].name, params[i].default_value ? eval(*params[i].default_value, scope) : Value());
    }
    std::string out;
    exec_block(body, scope, out);
    return Value(std::move(out));
  }

  void exec_call_block(const CallBlock& cb, const ScopePtr& scope, std::string& out) {
    Value caller = Value::function(
        "caller", [this, &cb, scope](CallArgs& args) { return call_macro(cb.caller_params, cb.body, scope, args); });
    const Value callee = eval(*cb.call->callee, scope);
    if (!callee.is_function()) eval_fail("'call' needs a macro, got ", callee.type_name());
    CallArgs args = eval_args(cb.call->args, scope);
    args.keyword.emplace_back("caller", std::move(caller));
    append(out, to_text(callee.as_function().call(args)));
  }

  // ---- expressions ----

  CallArgs eval_args(const std::vector<Argument>& list, const ScopePtr& scope) {
    CallArgs args;
    auto add_keyword = [&](const std::string& k, Value v) {
      if (args.keyword_arg(k)) eval_fail("keyword argument '", k, "' given twice");
      args.keyword.emplace_back(k, std::move(v));
    };
    for (const auto& a : list) {
      Value v = eval(*a.value, scope);
      switch (a.kind) {
        case Argument::Kind::Positional: args.positional.push_back(std::move(v)); break;
        case Argument::Kind::Keyword: add_keyword(a.name, std::move(v)); break;
        case Argument::Kind::Spread:
          if (!v.is_array()) eval_fail("cannot unpack ", v.type_name(), " with *");
          for (const Value& x : v.as_array()) args.positional.push_back(x);
          break;
        case Argument::Kind::KeywordSpread:
          if (!v.is_object()) eval_fail("argument after ** must be a dict, got ", v.type_name());
          for (const auto& [k, x] : v.as_object()) add_keyword(k, x);
          break;
      }
    }
    return args;
  }

  Value eval(const Node& n, const ScopePtr& scope) {
    try {
      DepthGuard depth(depth_);
      return eval_inner(n, scope);
    } catch (const EvalFailure& e) {
      located_fail(n, e.message);
    }
  }

  Value eval_inner(const Node& n, const ScopePtr& scope) {
    switch (n.kind) {
      case NodeKind::Integer: return Value(as<IntegerLiteral>(n).value);
      case NodeKind::Float: return Value(as<FloatLiteral>(n).value);
      case NodeKind::String: return Value(as<StringLiteral>(n).value);
      case NodeKind::Name: {
        const Value* v = scope->lookup(as<Name>(n).name);
        return v ? *v : Value();
      }
      case NodeKind::List:
      case NodeKind::Tuple: {
        Array items;
        for (const auto& item : as<Sequence>(n).items) items.push_back(eval(*item, scope));
        return Value::array(std::move(items));
      }
      case NodeKind::Dict: {
        Object entries;
        for (const auto& [k, v] : as<DictLiteral>(n).entries) {
          const Value key = eval(*k, scope);
          if (!key.is_string()) eval_fail("dict keys must be strings, got ", key.type_name());
          entries.set(key.as_string(), eval(*v, scope));
        }
        return Value::object(std::move(entries));
      }
      case NodeKind::Member: return eval_member(as<Member>(n), scope);
      case NodeKind::Call: {
        const auto& c = as<Call>(n);
        const Value callee = eval(*c.callee, scope);
        CallArgs args = eval_args(c.args, scope);
        if (!callee.is_function()) {
          if (c.callee->kind == NodeKind::Name)
            eval_fail("'", as<Name>(*c.callee).name, "' is ", callee.type_name(), ", not a function");
          eval_fail("cannot call a value of type ", callee.type_name());
        }
        return checked(callee.as_function().call(args));
      }
      case NodeKind::Unary: {
        const auto& u = as<Unary>(n);
        const Value v = eval(*u.operand, scope);
        if (u.op == "not") return Value(!v.truthy());
        if (v.is_int()) {
          if (u.op == "+") return v;
          if (v.as_int() == INT64_MIN) return Value(-static_cast<double>(v.as_int()));
          return Value(-v.as_int());
        }
        if (v.is_float()) return Value(u.op == "-" ? -v.as_float() : v.as_float());
        if (v.is_bool()) return Value(int64_t{(u.op == "-" ? -1 : 1) * (v.as_bool() ? 1 : 0)});
        eval_fail("unary '", u.op, "' needs a number, got ", v.type_name());
      }
      case NodeKind::Binary: {
        const auto& b = as<Binary>(n);
        const Value left = eval(*b.left, scope);
        if (b.op == "and") return left.truthy() ? eval(*b.right, scope) : left;
        if (b.op == "or") return left.truthy() ? left : eval(*b.right, scope);
        return checked(binary_operation(b.op, left, eval(*b.right, scope)));
      }
      case NodeKind::Filter: {
        const auto& f = as<Filter>(n);
        const Value operand = eval(*f.operand, scope);
        return checked(apply_filter(f.filter.name, operand, eval_args(f.filter.args, scope)));
      }
      case NodeKind::Test: {
        const auto& t = as<Test>(n);
        const Value operand = eval(*t.operand, scope);
        const CallArgs args = eval_args(t.args, scope);
        return Value(apply_test(t.name, operand, args.positional) != t.negate);
      }
      case NodeKind::Conditional: {
        const auto& c = as<Conditional>(n);
        if (eval(*c.test, scope).truthy()) return eval(*c.if_true, scope);
        return c.if_false ? eval(*c.if_false, scope) : Value();
      }
      default: eval_fail("statement used as an expression");
    }
  }

  Value eval_member(const Member& m, const ScopePtr& scope) {
    const Value object = eval(*m.object, scope);
    if (m.computed && m.property->kind == NodeKind::Slice) {
      const auto& s = as<Slice>(*m.property);
      auto part = [&](const NodePtr& p) { return p ? eval(*p, scope) : Value(); };
      return slice(object, part(s.start), part(s.stop), part(s.step));
    }
    Value key;
    if (m.computed) {
      key = eval(*m.property, scope);
    } else if (m.property->kind == NodeKind::Name) {
      key = Value(as<Name>(*m.property).name);
    } else {
      key = eval(*m.property, scope);
    }
    return subscript(object, key);
  }

  const Source& source_;
  size_t steps_ = 0;
  size_t max_steps_ = kBaseSteps;
  int depth_ = 0;
  int call_depth_ = 0;
  std::vector<ScopePtr> scopes_with_macros_;
  std::vector<Value> namespaces_;
};

}  // namespace

std::string render(const Program& program, const Source& source, const Object& variables) {
  Interpreter interpreter(source);
  return interpreter.run(program, variables);
}

}  // namespace nibble::tokenizer::jinja
