#include "tokenizer/hf_pre_tokenizer.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/hf_pattern.h"
#include "tokenizer/unicode_regex.h"

namespace nibble::tokenizer {

namespace {

// What becomes of the matches when a piece is split (tokenizers'
// SplitDelimiterBehavior).
enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const nlohmann::json& config, const std::string& where) {
  const std::string b = config.value("behavior", std::string("Isolated"));
  if (b == "Removed") return Behavior::Removed;
  if (b == "Isolated") return Behavior::Isolated;
  if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
  if (b == "MergedWithNext") return Behavior::MergedWithNext;
  if (b == "Contiguous") return Behavior::Contiguous;
  fail(where, ": Split behavior \"", b, "\" is not one of Removed, Isolated, MergedWithPrevious, "
       "MergedWithNext, Contiguous");
}

struct Span {
  size_t begin, end;
  bool is_match;
};

// Splits `piece` at `matches` (sorted, non-overlapping) and appends the parts.
void split_piece(const PreToken& piece, const std::vector<std::pair<size_t, size_t>>& matches, Behavior behavior,
                 bool invert, std::vector<PreToken>& out) {
  std::vector<Span> spans;  // covers the whole text
  size_t last = 0;
  for (const auto& [b, e] : matches) {
    if (b > last) spans.push_back({last, b, invert});
    spans.push_back({b, e, !invert});
    last = e;
  }
  if (last < piece.text.size()) spans.push_back({last, piece.text.size(), invert});

  std::vector<Span> parts;  // is_match now means "dropped"
  switch (behavior) {
    case Behavior::Removed:
      for (const Span& s : spans)
        if (!s.is_match) parts.push_back(s);
      break;
    case Behavior::Isolated:
      for (const Span& s : spans) parts.push_back({s.begin, s.end, false});
      break;
    case Behavior::MergedWithPrevious: {
      bool previous_match = false;
      for (const Span& s : spans) {
        if (s.is_match && !previous_match && !parts.empty()) parts.back().end = s.end;
        else parts.push_back({s.begin, s.end, false});
        previous_match = s.is_match;
      }
      break;
    }
    case Behavior::MergedWithNext: {
      bool next_match = false;  // walking backwards: whether the span after this one is a match
      for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
        if (it->is_match && !next_match && !parts.empty()) parts.back().begin = it->begin;
        else parts.push_back({it->begin, it->end, false});
        next_match = it->is_match;
      }
      std::reverse(parts.begin(), parts.end());
      break;
    }
    case Behavior::Contiguous: {
      bool previous_match = false;
      for (const Span& s : spans) {
        if (s.is_match == previous_match && !parts.empty()) parts.back().end = s.end;
        else parts.push_back({s.begin, s.end, false});
        previous_match = s.is_match;
      }
      break;
    }
  }
  for (const Span& p : parts) {
    if (p.end == p.begin) continue;
    out.push_back({piece.text.substr(p.begin, p.end - p.begin), piece.at_start && p.begin == 0});
  }
}

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(const nlohmann::json& config, const std::string& where)
      : pattern_(config.at("pattern"), where),
        behavior_(parse_behavior(config, where)),
        invert_(config.value("invert", false)) {}

  void pre_tokenize(std::vector<PreToken>& pieces) const override {
    std::vector<PreToken> out;
    out.reserve(pieces.size() * 4);
    for (const PreToken& p : pieces) split_piece(p, pattern_.find_all(p.text), behavior_, invert_, out);
    pieces = std::move(out);
  }

 private:
  HfPattern pattern_;
  Behavior behavior_;
  bool invert_;
};

// GPT-2's pre-tokenization pattern, which ByteLevel applies when use_regex is true.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(const nlohmann::json& config, const std::string& where)
      : add_prefix_space_(config.value("add_prefix_space", true)) {
    if (config.value("use_regex", true)) regex_ = std::make_unique<UnicodeRegex>(kGpt2Pattern, where);
  }

  void pre_tokenize(std::vector<PreToken>& pieces) const override {
    std::vector<PreToken> split;
    for (PreToken& p : pieces) {
      if (add_prefix_space_ && (p.text.empty() || p.text[0] != ' ')) p.text.insert(0, 1, ' ');
      if (regex_) split_piece(p, regex_->find_all(p.text), Behavior::Isolated, false, split);
      else if (!p.text.empty()) split.push_back(std::move(p));
    }
    for (PreToken& p : split) {
      std::string mapped;
      mapped.reserve(p.text.size() * 2);
      append_byte_level(mapped, p.text);
      p.text = std::move(mapped);
    }
    pieces = std::move(split);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<UnicodeRegex> regex_;
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(const nlohmann::json& config, const std::string& where)
      : replacement_(config.value("replacement", std::string("\xE2\x96\x81"))), split_(config.value("split", true)) {
    NIBBLE_CHECK(!replacement_.empty(), where, ": Metaspace replacement is empty");
    if (config.contains("prepend_scheme") && config["prepend_scheme"].is_string()) {
      scheme_ = config["prepend_scheme"].get<std::string>();
      NIBBLE_CHECK(scheme_ == "always" || scheme_ == "first" || scheme_ == "never", where,
                   ": Metaspace prepend_scheme \"", scheme_, "\" is not always, first or never");
    } else {
      scheme_ = config.value("add_prefix_space", true) ? "always" : "never";  // before tokenizers 0.15
    }
  }

  void pre_tokenize(std::vector<PreToken>& pieces) const override {
    std::vector<PreToken> out;
    for (PreToken& p : pieces) {
      std::string text;
      text.reserve(p.text.size() + replacement_.size());
      for (char c : p.text) {
        if (c == ' ') text += replacement_;
        else text += c;
      }
      const bool starts = text.compare(0, replacement_.size(), replacement_) == 0;
      if (!starts && (scheme_ == "always" || (scheme_ == "first" && p.at_start))) text.insert(0, replacement_);
      PreToken replaced{std::move(text), p.at_start};
      if (!split_) {
        if (!replaced.text.empty()) out.push_back(std::move(replaced));
        continue;
      }
      std::vector<std::pair<size_t, size_t>> matches;
      for (size_t pos = replaced.text.find(replacement_); pos != std::string::npos;
           pos = replaced.text.find(replacement_, pos + replacement_.size()))
        matches.emplace_back(pos, pos + replacement_.size());
      split_piece(replaced, matches, Behavior::MergedWithNext, false, out);
    }
    pieces = std::move(out);
  }

 private:
  std::string replacement_;
  std::string scheme_;
  bool split_;
};

class DigitsPreTokenizer : public PreTokenizer {
 public:
  DigitsPreTokenizer(const nlohmann::json& config, const std::string& where)
      : individual_(config.value("individual_digits", false)), regex_(R"(\p{N})", where) {}

  void pre_tokenize(std::vector<PreToken>& pieces) const override {
    std::vector<PreToken> out;
    for (const PreToken& p : pieces)
      split_piece(p, regex_.find_all(p.text), individual_ ? Behavior::Isolated : Behavior::Contiguous, false, out);
    pieces = std::move(out);
  }

 private:
  bool individual_;
  UnicodeRegex regex_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps) : steps_(std::move(steps)) {}
  void pre_tokenize(std::vector<PreToken>& pieces) const override {
    for (const auto& step : steps_) step->pre_tokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& config, const std::string& where) {
  if (config.is_null()) return nullptr;
  NIBBLE_CHECK(config.is_object() && config.contains("type") && config["type"].is_string(), where,
               ": pre_tokenizer must be an object with a \"type\"");
  const std::string type = config["type"].get<std::string>();
  if (type == "Split") return std::make_unique<SplitPreTokenizer>(config, where);
  if (type == "ByteLevel") return std::make_unique<ByteLevelPreTokenizer>(config, where);
  if (type == "Metaspace") return std::make_unique<MetaspacePreTokenizer>(config, where);
  if (type == "Digits") return std::make_unique<DigitsPreTokenizer>(config, where);
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (const auto& step : config.at("pretokenizers"))
      if (auto p = make_pre_tokenizer(step, where)) steps.push_back(std::move(p));
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  fail(where, ": pre_tokenizer type \"", type,
       "\" is not supported (supported: Split, ByteLevel, Metaspace, Digits, Sequence)");
}

}  // namespace nibble::tokenizer
