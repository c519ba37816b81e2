#include "serve/prompt_builder.h"

#include "core/error.h"
#include "serve/api_error.h"

namespace nibble::serve {

PromptBuilder::PromptBuilder(const tokenizer::Tokenizer& tok, const nlohmann::json& config) : tok_(tok) {
  if (config.is_object() && config.contains("chat_template") && !config["chat_template"].is_null())
    template_.emplace(tokenizer::ChatTemplate::from_tokenizer_config(config));
  bos_text_ = tokenizer::special_token_text(config, "bos_token");
  eos_text_ = tokenizer::special_token_text(config, "eos_token");
  if (bos_text_.empty() && tok.bos_id() >= 0) bos_text_ = tok.id_to_piece(tok.bos_id());
  if (eos_text_.empty() && tok.eos_id() >= 0) eos_text_ = tok.id_to_piece(tok.eos_id());
}

std::vector<int> PromptBuilder::encode(const std::string& text, bool add_special) const {
  return tok_.encode(text, add_special);
}

std::vector<int> PromptBuilder::encode_rendered(const std::string& text) const {
  std::vector<int> ids;
  std::string_view rest = text;
  if (!bos_text_.empty() && tok_.bos_id() >= 0 && rest.substr(0, bos_text_.size()) == bos_text_) {
    ids.push_back(tok_.bos_id());
    rest.remove_prefix(bos_text_.size());
  } else {
    // The template left BOS to the tokenizer (as for any text it encodes).
    ids = tok_.encode("", true);
  }
  // Split on the BOS/EOS strings so each becomes its id.
  while (!rest.empty()) {
    size_t at = std::string_view::npos, len = 0;
    int id = -1;
    for (const auto& [special, special_id] : {std::pair{std::string_view(bos_text_), tok_.bos_id()},
                                              std::pair{std::string_view(eos_text_), tok_.eos_id()}}) {
      if (special.empty() || special_id < 0) continue;
      const size_t pos = rest.find(special);
      if (pos < at) {
        at = pos;
        len = special.size();
        id = special_id;
      }
    }
    const std::string_view segment = rest.substr(0, at);
    if (!segment.empty()) {
      const std::vector<int> part = tok_.encode(segment, false);
      ids.insert(ids.end(), part.begin(), part.end());
    }
    if (at == std::string_view::npos) break;
    ids.push_back(id);
    rest.remove_prefix(at + len);
  }
  return ids;
}

PromptBuilder::ChatPrompt PromptBuilder::chat(const nlohmann::ordered_json& messages,
                                              bool add_generation_prompt, bool continue_final_message,
                                              const nlohmann::ordered_json& kwargs) const {
  ChatPrompt out;
  try {
    if (template_) {
      out.text = template_->render_json(messages, add_generation_prompt, bos_text_, eos_text_, kwargs);
    } else {
      std::vector<tokenizer::ChatMessage> plain;
      for (const auto& m : messages)
        plain.push_back(
            {m["role"].get<std::string>(), m["content"].is_string() ? m["content"].get<std::string>() : ""});
      out.text = tokenizer::render_fallback_chat(plain, add_generation_prompt);
    }
  } catch (const tokenizer::ChatTemplateRejected& e) {
    throw bad_request(std::string("the chat template rejected the messages: ") + e.what(), "messages");
  } catch (const Error& e) {
    throw bad_request(std::string("the chat template failed on these messages: ") + e.what(), "messages");
  }
  if (continue_final_message) {
    // Cut after the last message's text so the model continues it.
    const auto& last = messages.back()["content"];
    const std::string content = last.is_string() ? last.get<std::string>() : "";
    const size_t at = content.empty() ? std::string::npos : out.text.rfind(content);
    if (at == std::string::npos)
      throw bad_request(
          "continue_final_message: the final message's text does not appear in the rendered prompt",
          "continue_final_message");
    out.text.resize(at + content.size());
  }
  out.tokens = encode_rendered(out.text);
  return out;
}

}  // namespace nibble::serve
