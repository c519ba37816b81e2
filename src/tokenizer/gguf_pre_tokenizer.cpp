#include "tokenizer/gguf_pre_tokenizer.h"

#include <algorithm>
#include <initializer_list>
#include <vector>

#include "core/error.h"

namespace nibble::tokenizer {

namespace {

// The split regexes, as the models' tokenizer.json files write them.
constexpr const char* kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// llama.cpp's "default" applies four splits in turn.
constexpr const char* kDefaultRegexes[] = {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Regex, R"(\p{N}+)", "[0-9][0-9][0-9]"};

bool one_of(const std::string& name, std::initializer_list<const char*> names) {
  return std::any_of(names.begin(), names.end(), [&](const char* n) { return name == n; });
}

nlohmann::json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", use_regex}};
}

nlohmann::json splits_then_byte_level(const std::vector<std::string>& regexes) {
  nlohmann::json steps = nlohmann::json::array();
  for (const std::string& r : regexes)
    steps.push_back({{"type", "Split"}, {"pattern", {{"Regex", r}}}, {"behavior", "Isolated"}, {"invert", false}});
  steps.push_back(byte_level(false));
  return {{"type", "Sequence"}, {"pretokenizers", steps}};
}

bool is_llama3_family(const std::string& pre) {
  return one_of(pre, {"llama-bpe", "llama3", "llama-v3", "dbrx", "smaug-bpe", "falcon3"});
}

}  // namespace

nlohmann::json gguf_pre_tokenizer_config(const std::string& pre, const std::string& where) {
  if (one_of(pre, {"gpt-2", "gpt2", "phi-2", "mpt", "olmo", "jais"})) return byte_level(true);
  if (is_llama3_family(pre)) return splits_then_byte_level({kLlama3Regex});
  if (one_of(pre, {"qwen2", "stablelm2", "deepseek-r1-qwen", "megrez"})) return splits_then_byte_level({kQwen2Regex});
  if (one_of(pre, {"starcoder", "refact", "command-r", "smollm", "codeshell"}))
    return splits_then_byte_level({R"(\p{N})", kGpt2Regex});
  if (pre == "default") return splits_then_byte_level({std::begin(kDefaultRegexes), std::end(kDefaultRegexes)});
  fail(where, ": tokenizer.ggml.pre \"", pre,
       "\" is not supported (nibble knows default, gpt-2, llama-bpe/llama3, qwen2, starcoder and their aliases)");
}

bool gguf_pre_ignores_merges(const std::string& pre) { return is_llama3_family(pre); }

std::string gguf_pre_name(const nlohmann::json& pre_tokenizer, const std::string& where) {
  const auto type_of = [](const nlohmann::json& j) { return j.is_object() ? j.value("type", std::string()) : ""; };
  if (type_of(pre_tokenizer) == "ByteLevel" && pre_tokenizer.value("use_regex", true)) return "gpt-2";
  if (type_of(pre_tokenizer) == "Sequence" && pre_tokenizer.contains("pretokenizers")) {
    const auto& steps = pre_tokenizer["pretokenizers"];
    if (steps.is_array() && steps.size() == 2 && type_of(steps[0]) == "Split" && type_of(steps[1]) == "ByteLevel" &&
        !steps[1].value("use_regex", true)) {
      const auto& pattern = steps[0].value("pattern", nlohmann::json());
      const std::string regex = pattern.is_object() ? pattern.value("Regex", std::string()) : "";
      if (regex == kLlama3Regex) return "llama-bpe";
      if (regex == kQwen2Regex) return "qwen2";
    }
  }
  fail(where, ": the pre_tokenizer ", pre_tokenizer.dump(),
       " has no llama.cpp tokenizer.ggml.pre name nibble knows (GPT-2 ByteLevel, Llama 3 or Qwen2 Split regex)");
}

}  // namespace nibble::tokenizer
