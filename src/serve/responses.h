// JSON of responses and stream chunks (shared/specs/openai-api.md §4-§6),
// built from what the engine produced for each choice.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "serve/protocol.h"
#include "serve/request_stream.h"
#include "tokenizer/tokenizer.h"

namespace nibble::serve {

struct ResponseMeta {
  Endpoint endpoint = Endpoint::kChat;
  std::string id;  // "chatcmpl-..." / "cmpl-..."
  int64_t created = 0;
  std::string model;
};

ResponseMeta new_response_meta(Endpoint endpoint, std::string model);
inline constexpr const char* kSystemFingerprint = "nibble-0.1.0";

// One choice, accumulated over its events.
struct ChoiceResult {
  std::string text;
  std::vector<TokenLogprob> logprobs;
  FinishReason finish = FinishReason::kNone;
  int completion_tokens = 0;
  size_t logprob_offset = 0;  // where generated text starts in `text` (after an echoed prompt)
};

nlohmann::ordered_json usage_json(int prompt_tokens, int completion_tokens);

// The text a token stands for in logprobs ("▁the" -> " the", "<0x0A>" -> "\n").
std::string token_text(const tokenizer::Tokenizer& tok, int id);

// logprobs objects: chat {"content": [...]}; completions the legacy
// {"tokens", "token_logprobs", "top_logprobs", "text_offset"}, offsets
// counted from `offset`.
nlohmann::ordered_json chat_logprobs_json(const tokenizer::Tokenizer& tok,
                                          const std::vector<TokenLogprob>& lp);
nlohmann::ordered_json completion_logprobs_json(const tokenizer::Tokenizer& tok,
                                                const std::vector<TokenLogprob>& lp, size_t offset);

// Whole response (non-streaming). `wants_logprobs` decides null vs an object.
nlohmann::ordered_json full_response_json(const ResponseMeta& meta, const tokenizer::Tokenizer& tok,
                                          const std::vector<ChoiceResult>& choices, bool wants_logprobs,
                                          int prompt_tokens);

// One stream chunk for choice `index`: chat puts `text` in delta.content
// (with role when `first`), completions in text. `finish` kNone -> null.
nlohmann::ordered_json chunk_json(const ResponseMeta& meta, const tokenizer::Tokenizer& tok, int index,
                                  const std::string& text, bool first, FinishReason finish,
                                  const std::vector<TokenLogprob>* logprobs, size_t logprob_offset);
// The include_usage chunk: empty choices, the request's usage.
nlohmann::ordered_json usage_chunk_json(const ResponseMeta& meta, int prompt_tokens, int completion_tokens);

}  // namespace nibble::serve
