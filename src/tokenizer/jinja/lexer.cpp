#include "tokenizer/jinja/lexer.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "tokenizer/jinja/text.h"

namespace nibble::tokenizer::jinja {

const char* token_type_name(TokenType t) {
  switch (t) {
    case TokenType::Text: return "text";
    case TokenType::Comment: return "comment";
    case TokenType::OpenStatement: return "'{%'";
    case TokenType::CloseStatement: return "'%}'";
    case TokenType::OpenExpression: return "'{{'";
    case TokenType::CloseExpression: return "'}}'";
    case TokenType::Number: return "number";
    case TokenType::String: return "string";
    case TokenType::Identifier: return "name";
    case TokenType::Equals: return "'='";
    case TokenType::OpenParen: return "'('";
    case TokenType::CloseParen: return "')'";
    case TokenType::OpenBracket: return "'['";
    case TokenType::CloseBracket: return "']'";
    case TokenType::OpenBrace: return "'{'";
    case TokenType::CloseBrace: return "'}'";
    case TokenType::Comma: return "','";
    case TokenType::Dot: return "'.'";
    case TokenType::Colon: return "':'";
    case TokenType::Pipe: return "'|'";
    case TokenType::Additive: return "operator";
    case TokenType::Multiplicative: return "operator";
    case TokenType::Power: return "'**'";
    case TokenType::Comparison: return "comparison";
    case TokenType::UnarySign: return "sign";
  }
  return "token";
}

namespace {

// Longest operators first where one is a prefix of another.
const std::pair<const char*, TokenType> kSymbols[] = {
    {"{%", TokenType::OpenStatement},  {"%}", TokenType::CloseStatement},
    {"{{", TokenType::OpenExpression}, {"}}", TokenType::CloseExpression},
    {"(", TokenType::OpenParen},       {")", TokenType::CloseParen},
    {"{", TokenType::OpenBrace},       {"}", TokenType::CloseBrace},
    {"[", TokenType::OpenBracket},     {"]", TokenType::CloseBracket},
    {",", TokenType::Comma},           {".", TokenType::Dot},
    {":", TokenType::Colon},           {"|", TokenType::Pipe},
    {"<=", TokenType::Comparison},     {">=", TokenType::Comparison},
    {"==", TokenType::Comparison},     {"!=", TokenType::Comparison},
    {"<", TokenType::Comparison},      {">", TokenType::Comparison},
    {"+", TokenType::Additive},        {"-", TokenType::Additive},
    {"~", TokenType::Additive},        {"**", TokenType::Power},
    {"*", TokenType::Multiplicative},  {"//", TokenType::Multiplicative},
    {"/", TokenType::Multiplicative},  {"%", TokenType::Multiplicative},
    {"=", TokenType::Equals},
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(const Source& source) : source_(source), src_(source.text()) {}

  std::vector<Token> run() {
    while (cur_ < src_.size()) step();
    return std::move(tokens_);
  }

 private:
  template <class... Args>
  [[noreturn]] void error(size_t at, const Args&... args) {
    fail("chat template syntax error at ", source_.where(source_.origin(std::min(at, src_.size()))), ": ", args...);
  }

  bool starts(std::string_view s) const { return src_.compare(cur_, s.size(), s) == 0; }
  char peek(size_t ahead = 0) const { return cur_ + ahead < src_.size() ? src_[cur_ + ahead] : '\0'; }

  void push(TokenType type, std::string value, size_t at) {
    tokens_.push_back(Token{type, std::move(value), source_.origin(at)});
  }

  bool last_is(std::initializer_list<TokenType> types) const {
    if (tokens_.empty()) return false;
    return std::find(types.begin(), types.end(), tokens_.back().type) != types.end();
  }

  void strip_trailing_whitespace() {
    if (!tokens_.empty() && tokens_.back().type == TokenType::Text) {
      tokens_.back().value = trim(tokens_.back().value, false, true);
      if (tokens_.back().value.empty()) tokens_.pop_back();
    }
  }

  void skip_whitespace() {
    while (cur_ < src_.size()) {
      size_t i = cur_;
      if (!is_space(next_code_point(src_, i))) break;
      cur_ = i;
    }
  }

  void step() {
    // Text runs from the end of a tag to the next "{%", "{{" or "{#".
    if (tokens_.empty() || last_is({TokenType::CloseStatement, TokenType::CloseExpression, TokenType::Comment})) {
      const size_t start = cur_;
      while (cur_ < src_.size() && !(src_[cur_] == '{' && (peek(1) == '%' || peek(1) == '{' || peek(1) == '#'))) ++cur_;
      if (cur_ > start) {
        push(TokenType::Text, src_.substr(start, cur_ - start), start);
        return;
      }
    }
    if (starts("{#")) return comment();
    if (starts("{%-")) {
      strip_trailing_whitespace();
      push(TokenType::OpenStatement, "{%", cur_);
      cur_ += 3;
      return;
    }
    if (starts("{{-")) {
      strip_trailing_whitespace();
      push(TokenType::OpenExpression, "{{", cur_);
      curly_depth_ = 0;
      cur_ += 3;
      return;
    }
    skip_whitespace();
    if (cur_ >= src_.size()) return;
    if (starts("-%}") || starts("-}}")) {
      const bool statement = peek(1) == '%';
      push(statement ? TokenType::CloseStatement : TokenType::CloseExpression, statement ? "%}" : "}}", cur_);
      cur_ += 3;
      skip_whitespace();
      return;
    }
    const char c = src_[cur_];
    if ((c == '-' || c == '+') && !last_is({TokenType::Identifier, TokenType::Number, TokenType::String,
                                            TokenType::CloseParen, TokenType::CloseBracket})) {
      if (tokens_.empty() || tokens_.back().type == TokenType::Text) error(cur_, "unexpected character '", c, "'");
      // A sign: glued onto a following number literal, else a unary operator.
      const size_t start = cur_++;
      std::string num = digits();
      if (!num.empty() && peek() == '.' && is_digit(peek(1))) {
        ++cur_;
        num += "." + digits();
      }
      if (num.empty()) {
        push(TokenType::UnarySign, std::string(1, c), start);
      } else {
        push(TokenType::Number, std::string(1, c) + num, start);
      }
      return;
    }
    for (const auto& [seq, type] : kSymbols) {
      if (seq[0] != c || (type == TokenType::CloseExpression && curly_depth_ > 0)) continue;
      if (!starts(seq)) continue;
      push(type, seq, cur_);
      if (type == TokenType::OpenExpression) curly_depth_ = 0;
      if (type == TokenType::OpenBrace) ++curly_depth_;
      if (type == TokenType::CloseBrace) --curly_depth_;
      cur_ += std::char_traits<char>::length(seq);
      return;
    }
    if (c == '\'' || c == '"') return string_literal(c);
    if (is_digit(c)) {
      const size_t start = cur_;
      std::string num = digits();
      if (!last_is({TokenType::Dot}) && peek() == '.' && is_digit(peek(1))) {
        ++cur_;
        num += "." + digits();
      }
      push(TokenType::Number, num, start);
      return;
    }
    if (is_word_char(c)) {
      const size_t start = cur_;
      while (cur_ < src_.size() && is_word_char(src_[cur_])) ++cur_;
      push(TokenType::Identifier, src_.substr(start, cur_ - start), start);
      return;
    }
    size_t end = cur_;
    next_code_point(src_, end);
    error(cur_, "unexpected character '", src_.substr(cur_, end - cur_), "'");
  }

  std::string digits() {
    const size_t start = cur_;
    while (cur_ < src_.size() && is_digit(src_[cur_])) ++cur_;
    return src_.substr(start, cur_ - start);
  }

  void comment() {
    const size_t start = cur_;
    cur_ += 2;
    const bool strip_before = peek() == '-';
    if (strip_before) ++cur_;
    const size_t end = src_.find("#}", cur_);
    if (end == std::string::npos) error(start, "comment is not closed with '#}'");
    std::string text = src_.substr(cur_, end - cur_);
    const bool strip_after = !text.empty() && text.back() == '-';
    if (strip_after) text.pop_back();
    if (strip_before) strip_trailing_whitespace();
    push(TokenType::Comment, std::move(text), start);
    cur_ = end + 2;
    if (strip_after) skip_whitespace();
  }

  void string_literal(char quote) {
    const size_t start = cur_++;
    std::string value;
    char32_t pending_high = 0;  // a \uD800-\uDBFF escape waiting for its low half
    auto flush_high = [&] {
      if (pending_high) append_utf8(value, pending_high);
      pending_high = 0;
    };
    while (true) {
      if (cur_ >= src_.size()) error(start, "string literal is not closed");
      const char c = src_[cur_];
      if (c == quote) break;
      if (c != '\\') {
        flush_high();
        value += c;
        ++cur_;
        continue;
      }
      if (cur_ + 1 >= src_.size()) error(start, "string literal is not closed");
      const char e = src_[cur_ + 1];
      cur_ += 2;
      if (e == 'x' || e == 'u') {
        const size_t len = e == 'x' ? 2 : 4;
        char32_t cp = 0;
        for (size_t k = 0; k < len; ++k) {
          const int h = hex_value(peek(k));
          if (h < 0) error(cur_ - 2, "invalid escape sequence \\", e, src_.substr(cur_, len));
          cp = cp * 16 + static_cast<char32_t>(h);
        }
        cur_ += len;
        if (cp >= 0xDC00 && cp <= 0xDFFF && pending_high) {
          append_utf8(value, 0x10000 + ((pending_high - 0xD800) << 10) + (cp - 0xDC00));
          pending_high = 0;
        } else {
          flush_high();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            pending_high = cp;
          } else {
            append_utf8(value, cp);
          }
        }
        continue;
      }
      flush_high();
      switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case '\\': value += '\\'; break;
        default:  // Python keeps unknown escapes as written
          value += '\\';
          value += e;
      }
    }
    flush_high();
    ++cur_;  // closing quote
    push(TokenType::String, std::move(value), start);
  }

  const Source& source_;
  const std::string& src_;
  std::vector<Token> tokens_;
  size_t cur_ = 0;
  int curly_depth_ = 0;
};

}  // namespace

std::vector<Token> tokenize(const Source& source) { return Lexer(source).run(); }

}  // namespace nibble::tokenizer::jinja
