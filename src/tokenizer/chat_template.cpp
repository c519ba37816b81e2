#include "tokenizer/chat_template.h"

#include "core/error.h"
#include "tokenizer/jinja/convert.h"

namespace nibble::tokenizer {

ChatTemplate::ChatTemplate(std::string source) : template_(std::move(source)) {}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                 const std::string& bos_token, const std::string& eos_token,
                                 const nlohmann::ordered_json& extra) const {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& m : messages) list.push_back({{"role", m.role}, {"content", m.content}});
  return render_json(list, add_generation_prompt, bos_token, eos_token, extra);
}

std::string ChatTemplate::render_json(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                      const std::string& bos_token, const std::string& eos_token,
                                      const nlohmann::ordered_json& extra) const {
  NIBBLE_CHECK(messages.is_array(), "chat template: messages must be a JSON array, got ", messages.type_name());
  NIBBLE_CHECK(extra.is_null() || extra.is_object(), "chat template: extra variables must be a JSON object, got ",
               extra.type_name());
  jinja::Object variables;
  variables.set("messages", jinja::from_json(messages));
  variables.set("add_generation_prompt", jinja::Value(add_generation_prompt));
  variables.set("bos_token", jinja::Value(bos_token));
  variables.set("eos_token", jinja::Value(eos_token));
  if (extra.is_object()) {
    for (const auto& [key, value] : extra.items()) {
      NIBBLE_CHECK(!variables.find(key), "chat template: extra variable '", key,
                   "' would replace the one nibble sets itself");
      variables.set(key, jinja::from_json(value));
    }
  }
  return template_.render(variables);
}

ChatTemplate ChatTemplate::from_tokenizer_config(const nlohmann::json& config) {
  NIBBLE_CHECK(config.is_object(), "tokenizer_config.json: expected a JSON object");
  auto it = config.find("chat_template");
  NIBBLE_CHECK(it != config.end() && !it->is_null(), "tokenizer_config.json has no chat_template");
  if (it->is_string()) return ChatTemplate(it->get<std::string>());
  NIBBLE_CHECK(it->is_array(), "tokenizer_config.json: chat_template must be a string or a list of ",
               "{name, template}, got ", it->type_name());
  std::string names;
  for (const auto& entry : *it) {
    NIBBLE_CHECK(entry.is_object() && entry.contains("name") && entry["name"].is_string() &&
                     entry.contains("template") && entry["template"].is_string(),
                 "tokenizer_config.json: each chat_template entry must be {\"name\": string, \"template\": string}");
    const std::string name = entry["name"].get<std::string>();
    if (name == "default") return ChatTemplate(entry["template"].get<std::string>());
    names += (names.empty() ? "" : ", ") + name;
  }
  fail("tokenizer_config.json: chat_template lists templates (", names, ") but none named \"default\"");
}

std::string special_token_text(const nlohmann::json& config, const std::string& key) {
  if (!config.is_object()) return "";
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  fail("tokenizer_config.json: ", key, " must be a string or {\"content\": string}, got ", it->type_name());
}

std::string render_fallback_chat(const std::vector<ChatMessage>& messages, bool add_generation_prompt) {
  std::string out;
  for (const auto& m : messages) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
  if (add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace nibble::tokenizer
