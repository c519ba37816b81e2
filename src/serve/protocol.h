// The OpenAI protocol objects nibble speaks (shared/specs/openai-api.md):
// request bodies parsed and validated into plain structs, and the JSON of
// responses and stream chunks built from engine results. Parsing never
// trusts the client: every wrong type, missing field or out-of-range value
// throws ApiError 400 naming the parameter. Unknown fields are ignored.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/sampler.h"

namespace nibble::serve {

enum class Endpoint { kChat, kCompletion };

// Sampling defaults: OpenAI's (temperature 1, no top-k/top-p/min-p), unless
// the model's generation_config.json says otherwise (as vLLM does).
model::SamplingParams default_sampling(const nlohmann::json& generation_config);

// Everything a request asks of the sampler beyond model::SamplingParams.
struct SamplingOptions {
  model::SamplingParams params;
  bool seeded = false;  // params.seed came from the request
  float presence_penalty = 0, frequency_penalty = 0;
  std::vector<std::pair<int, float>> logit_bias;  // token id, added to its logit
};

// One prompt of /v1/completions as sent: text, or token ids used verbatim.
struct PromptInput {
  std::optional<std::string> text;
  std::vector<int> ids;
};

struct GenerationParams {
  Endpoint endpoint = Endpoint::kCompletion;
  std::string model;                       // as requested; "" when absent
  nlohmann::ordered_json messages;         // chat: normalized messages (content as a string)
  std::vector<PromptInput> prompts;        // completions
  bool add_generation_prompt = true;       // chat
  bool continue_final_message = false;     // chat
  nlohmann::ordered_json template_kwargs;  // chat_template_kwargs, or null
  bool add_special_tokens = true;          // completions with text prompts
  std::optional<int> max_tokens;
  int min_tokens = 0;
  int n = 1;
  std::vector<std::string> stop;
  std::vector<int> stop_token_ids;
  bool include_stop_str_in_output = false;
  bool ignore_eos = false;
  bool stream = false;
  bool include_usage = false;
  bool echo = false;  // completions: prompt text before the completion
  int logprobs = -1;  // -1: none; else how many alternatives per token (0..20)
  SamplingOptions sampling;
};

// Parse and validate a request body. `vocab` bounds token ids (prompt ids,
// logit_bias keys, stop_token_ids).
GenerationParams parse_chat_request(const nlohmann::json& body, const model::SamplingParams& defaults,
                                    int vocab);
GenerationParams parse_completion_request(const nlohmann::json& body, const model::SamplingParams& defaults,
                                          int vocab);

// The body as JSON; 400 when it is not a JSON object.
nlohmann::json parse_json_body(const std::string& body);

// JSON text that never throws on invalid UTF-8 (it is replaced with U+FFFD).
std::string dump_json(const nlohmann::json& j);
std::string dump_json(const nlohmann::ordered_json& j);

// ---- typed access to request fields (null counts as absent) ----
namespace fields {
bool has(const nlohmann::json& body, const char* key);
std::optional<bool> boolean(const nlohmann::json& body, const char* key);
std::optional<int64_t> integer(const nlohmann::json& body, const char* key, int64_t min, int64_t max);
std::optional<double> number(const nlohmann::json& body, const char* key, double min, double max,
                             bool min_exclusive = false);
std::optional<std::string> string(const nlohmann::json& body, const char* key);
}  // namespace fields

}  // namespace nibble::serve
