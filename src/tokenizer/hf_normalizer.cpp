#include "tokenizer/hf_normalizer.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "tokenizer/hf_pattern.h"
#include "tokenizer/unicode_normalize.h"
#include "tokenizer/utf8.h"

namespace nibble::tokenizer {

namespace {

class NfcNormalizer : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override { return to_nfc(text); }
};

class NfdNormalizer : public Normalizer {
 public:
  std::string normalize(std::string_view text) const override { return to_nfd(text); }
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string normalize(std::string_view text) const override {
    if (text.empty()) return {};  // tokenizers prepends only to non-empty text
    return prefix_ + std::string(text);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(const nlohmann::json& pattern, std::string content, const std::string& where)
      : pattern_(pattern, where), content_(std::move(content)) {}
  std::string normalize(std::string_view text) const override { return pattern_.replace_all(text, content_); }

 private:
  HfPattern pattern_;
  std::string content_;
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  std::string normalize(std::string_view text) const override {
    size_t begin = 0, end = text.size();
    if (left_) {
      while (begin < end) {
        const Utf8Char c = decode_utf8(text, begin);
        if (!c.valid || !is_unicode_whitespace(c.cp)) break;
        begin += c.len;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
        const Utf8Char c = decode_utf8(text, start);
        if (!c.valid || start + c.len != end || !is_unicode_whitespace(c.cp)) break;
        end = start;
      }
    }
    return std::string(text.substr(begin, end - begin));
  }

 private:
  bool left_, right_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps) : steps_(std::move(steps)) {}
  std::string normalize(std::string_view text) const override {
    std::string s(text);
    for (const auto& step : steps_) s = step->normalize(s);
    return s;
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& config, const std::string& where) {
  if (config.is_null()) return nullptr;
  NIBBLE_CHECK(config.is_object() && config.contains("type") && config["type"].is_string(), where,
               ": normalizer must be an object with a \"type\"");
  const std::string type = config["type"].get<std::string>();
  if (type == "NFC") return std::make_unique<NfcNormalizer>();
  if (type == "NFD") return std::make_unique<NfdNormalizer>();
  if (type == "Prepend") return std::make_unique<PrependNormalizer>(config.at("prepend").get<std::string>());
  if (type == "Replace")
    return std::make_unique<ReplaceNormalizer>(config.at("pattern"), config.at("content").get<std::string>(),
                                               where);
  if (type == "Strip")
    return std::make_unique<StripNormalizer>(config.value("strip_left", true), config.value("strip_right", true));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (const auto& step : config.at("normalizers"))
      if (auto n = make_normalizer(step, where)) steps.push_back(std::move(n));
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  fail(where, ": normalizer type \"", type,
       "\" is not supported (supported: NFC, NFD, Prepend, Replace, Strip, Sequence)");
}

}  // namespace nibble::tokenizer
