#include "tokenizer/hf_special_tokens.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace nibble::tokenizer {

namespace {

struct Template {
  std::vector<int> prefix, suffix;
};

std::vector<int> template_token_ids(const nlohmann::json& processor, const std::string& name,
                                    const std::string& where) {
  const auto& specials = processor.at("special_tokens");
  NIBBLE_CHECK(specials.contains(name), where, ": post_processor template uses \"", name,
               "\", which its special_tokens do not define");
  return specials[name].at("ids").get<std::vector<int>>();
}

Template parse_template(const nlohmann::json& processor, const std::string& where) {
  Template t;
  if (processor.is_null()) return t;
  const std::string type = processor.at("type").get<std::string>();
  if (type == "ByteLevel") return t;  // only trims offsets
  if (type == "TemplateProcessing") {
    bool seen_sequence = false;
    for (const auto& item : processor.at("single")) {
      if (item.contains("Sequence")) {
        seen_sequence = true;
      } else if (item.contains("SpecialToken")) {
        const auto ids = template_token_ids(processor, item["SpecialToken"].at("id").get<std::string>(), where);
        auto& side = seen_sequence ? t.suffix : t.prefix;
        side.insert(side.end(), ids.begin(), ids.end());
      } else {
        fail(where, ": post_processor template item ", item.dump(), " is neither SpecialToken nor Sequence");
      }
    }
    return t;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {  // "cls": ["<s>", 0], "sep": ["</s>", 2]
    t.prefix = {processor.at("cls").at(1).get<int>()};
    t.suffix = {processor.at("sep").at(1).get<int>()};
    return t;
  }
  if (type == "Sequence") {  // each processor wraps what the previous ones produced
    for (const auto& p : processor.at("processors")) {
      Template inner = parse_template(p, where);
      inner.prefix.insert(inner.prefix.end(), t.prefix.begin(), t.prefix.end());
      t.suffix.insert(t.suffix.end(), inner.suffix.begin(), inner.suffix.end());
      t.prefix = std::move(inner.prefix);
    }
    return t;
  }
  fail(where, ": post_processor type \"", type,
       "\" is not supported (supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence)");
}

// tokenizer_config's bos_token / eos_token: "text", {"content": "text"}, null or absent.
std::string config_token(const nlohmann::json& config, const char* key) {
  if (!config.is_object() || !config.contains(key)) return {};
  const auto& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

}  // namespace

SpecialTokenPlan plan_special_tokens(const nlohmann::json& post_processor, const nlohmann::json& tokenizer_config,
                                     const std::function<int(std::string_view)>& piece_to_id,
                                     const std::string& where) {
  const Template tmpl = parse_template(post_processor, where);
  SpecialTokenPlan plan;
  plan.prefix = tmpl.prefix;
  plan.suffix = tmpl.suffix;

  const std::string bos = config_token(tokenizer_config, "bos_token");
  const std::string eos = config_token(tokenizer_config, "eos_token");
  plan.bos_id = bos.empty() ? -1 : piece_to_id(bos);
  plan.eos_id = eos.empty() ? -1 : piece_to_id(eos);
  if (plan.bos_id < 0 && !tmpl.prefix.empty()) plan.bos_id = tmpl.prefix.front();
  if (plan.eos_id < 0 && !tmpl.suffix.empty()) plan.eos_id = tmpl.suffix.back();

  const auto flag = [&](const char* key) -> const nlohmann::json* {
    if (!tokenizer_config.is_object()) return nullptr;
    const auto it = tokenizer_config.find(key);
    return (it != tokenizer_config.end() && it->is_boolean()) ? &*it : nullptr;
  };
  if (const auto* add_bos = flag("add_bos_token")) {
    plan.prefix.clear();
    if (add_bos->get<bool>()) {
      NIBBLE_CHECK(plan.bos_id >= 0, where, ": tokenizer_config asks for add_bos_token but its bos_token \"", bos,
                   "\" is not in the vocabulary");
      plan.prefix = {plan.bos_id};
    }
  }
  if (const auto* add_eos = flag("add_eos_token")) {
    plan.suffix.clear();
    if (add_eos->get<bool>()) {
      NIBBLE_CHECK(plan.eos_id >= 0, where, ": tokenizer_config asks for add_eos_token but its eos_token \"", eos,
                   "\" is not in the vocabulary");
      plan.suffix = {plan.eos_id};
    }
  }
  return plan;
}

}  // namespace nibble::tokenizer
