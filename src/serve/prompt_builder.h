// Prompts as token ids: chat messages rendered with the model's chat
// template (tokenizer_config.json "chat_template"; ChatML when the model has
// none), and completion prompts encoded as `nibble generate` encodes them.
//
// BOS: when the rendered chat text starts with the BOS string the template
// put it there, so it becomes the BOS id and nothing more is added; otherwise
// the tokenizer adds its specials as for any text. The BOS/EOS strings inside
// rendered text (e.g. "</s>" closing earlier assistant turns) become their
// ids rather than being spelled out as characters.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace nibble::serve {

class PromptBuilder {
 public:
  // Throws nibble::Error when the model's chat template does not parse.
  PromptBuilder(const tokenizer::Tokenizer& tok, const nlohmann::json& tokenizer_config);

  struct ChatPrompt {
    std::string text;
    std::vector<int> tokens;
  };
  // `messages` as GenerationParams holds them. Throws ApiError 400 when the
  // template refuses the conversation or fails on it.
  ChatPrompt chat(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                  bool continue_final_message, const nlohmann::ordered_json& template_kwargs) const;

  // A completion prompt: the tokenizer's own encoding (BOS per its config
  // when add_special).
  std::vector<int> encode(const std::string& text, bool add_special) const;

  bool has_template() const { return template_.has_value(); }

 private:
  std::vector<int> encode_rendered(const std::string& text) const;

  const tokenizer::Tokenizer& tok_;
  std::optional<tokenizer::ChatTemplate> template_;
  std::string bos_text_, eos_text_;
};

}  // namespace nibble::serve
