// Chat templates: turning a conversation into the prompt text a model was
// trained on, with the Jinja template the model ships in tokenizer_config.json
// ("chat_template") or in GGUF metadata (tokenizer.chat_template).
//
// Templates render as the Hugging Face Hub renders them: Jinja with
// trim_blocks and lstrip_blocks on (what transformers' apply_chat_template
// uses), checked byte for byte against @huggingface/jinja in
// tests/tokenizer/chat_template_test.cpp. See tokenizer/jinja/template.h for
// the supported Jinja subset and where it follows Python or JavaScript.
//
// Variables a template sees: messages (list of {role, content, ...}),
// add_generation_prompt, bos_token, eos_token, the keys of `extra` (e.g.
// tools, date_string, enable_thinking), and the globals raise_exception,
// strftime_now (local time), range, namespace, dict.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/jinja/errors.h"
#include "tokenizer/jinja/template.h"

namespace nibble::tokenizer {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool", ...
  std::string content;
};

// Thrown when the template itself refuses the conversation through
// raise_exception (e.g. Llama 2's "Conversation roles must alternate ...");
// the message includes the template's text. A nibble::Error.
using ChatTemplateRejected = jinja::TemplateRaisedError;

class ChatTemplate {
 public:
  // `source` is the Jinja text. Parses once; throws nibble::Error naming the
  // line and column of a syntax error.
  explicit ChatTemplate(std::string source);

  // Renders `messages`. `extra` (a JSON object or null) adds top-level
  // variables; it may not redefine messages, add_generation_prompt,
  // bos_token or eos_token. Throws nibble::Error (ChatTemplateRejected for
  // raise_exception) on failure. Thread-safe.
  std::string render(const std::vector<ChatMessage>& messages, bool add_generation_prompt, const std::string& bos_token,
                     const std::string& eos_token, const nlohmann::ordered_json& extra = nullptr) const;

  // The same with messages given as a JSON array of message objects, passed
  // to the template unchanged (tool_calls, tool_call_id, name, null content,
  // reasoning_content, ...). Use ordered_json so dicts keep the key order the
  // client sent (tojson prints keys in that order, like Python).
  std::string render_json(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                          const std::string& bos_token, const std::string& eos_token,
                          const nlohmann::ordered_json& extra = nullptr) const;

  // The "chat_template" of a parsed tokenizer_config.json: a string, or a
  // list of {"name", "template"} from which the one named "default" is used.
  // Throws nibble::Error if there is none.
  static ChatTemplate from_tokenizer_config(const nlohmann::json& config);

  const std::string& source() const { return template_.text(); }

 private:
  jinja::Template template_;
};

// The text of a special token in tokenizer_config.json ("bos_token",
// "eos_token", ...), given either as a string or as an AddedToken object
// {"content": ...}; "" when absent or null.
std::string special_token_text(const nlohmann::json& config, const std::string& key);

// For models that ship no template: ChatML, as llama.cpp falls back to.
//   <|im_start|>{role}\n{content}<|im_end|>\n   for each message, then
//   <|im_start|>assistant\n                      if add_generation_prompt.
std::string render_fallback_chat(const std::vector<ChatMessage>& messages, bool add_generation_prompt);

}  // namespace nibble::tokenizer
