// Request parsing and validation: JSON bodies -> GenerationParams.
#include <charconv>
#include <cmath>
#include <limits>

#include "serve/api_error.h"
#include "serve/protocol.h"

namespace nibble::serve {

using nlohmann::json;

namespace {

std::string shown(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

std::string number_text(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(int64_t(v));
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  return s;
}

[[noreturn]] void wrong_type(const std::string& param, const char* expected, const json& got) {
  throw bad_request(
      param + " must be " + expected + ", got " + std::string(got.type_name()) + " " + shown(got), param);
}

int64_t range_checked(const std::string& param, double v, int64_t min, int64_t max) {
  if (v < double(min))
    throw bad_request(param + " must be >= " + std::to_string(min) + ", got " + number_text(v), param);
  if (v > double(max))
    throw bad_request(param + " must be <= " + std::to_string(max) + ", got " + number_text(v), param);
  return int64_t(v);
}

// Integer value of `v` (integral floats such as 5.0 are accepted, as pydantic does).
int64_t as_integer(const std::string& param, const json& v, int64_t min, int64_t max) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(max))
      throw bad_request(param + " must be <= " + std::to_string(max) + ", got " + std::to_string(u), param);
    if (int64_t(u) < min)
      throw bad_request(param + " must be >= " + std::to_string(min) + ", got " + std::to_string(u), param);
    return int64_t(u);
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < min)
      throw bad_request(param + " must be >= " + std::to_string(min) + ", got " + std::to_string(i), param);
    if (i > max)
      throw bad_request(param + " must be <= " + std::to_string(max) + ", got " + std::to_string(i), param);
    return i;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d)) wrong_type(param, "an integer", v);
    return range_checked(param, d, min, max);
  }
  wrong_type(param, "an integer", v);
}

std::vector<int> token_ids(const std::string& param, const json& v, int vocab) {
  if (!v.is_array()) wrong_type(param, "an array of token ids", v);
  std::vector<int> ids;
  for (size_t i = 0; i < v.size(); ++i)
    ids.push_back(int(as_integer(param + "[" + std::to_string(i) + "]", v[i], 0, vocab - 1)));
  return ids;
}

constexpr int64_t kIntMax = std::numeric_limits<int32_t>::max();

void parse_sampling(const json& b, const model::SamplingParams& defaults, int vocab, SamplingOptions& o) {
  o.params = defaults;
  if (auto v = fields::number(b, "temperature", 0, 100)) o.params.temperature = float(*v);
  if (auto v = fields::number(b, "top_p", 0, 1, true)) o.params.top_p = float(*v);
  if (auto v = fields::integer(b, "top_k", -1, kIntMax)) o.params.top_k = int(std::max<int64_t>(*v, 0));
  if (auto v = fields::number(b, "min_p", 0, 1)) o.params.min_p = float(*v);
  for (const char* key : {"repetition_penalty", "repeat_penalty"})
    if (auto v = fields::number(b, key, 0, 10, true)) o.params.repetition_penalty = float(*v);
  if (auto v = fields::integer(b, "repeat_last_n", -1, kIntMax))
    o.params.repetition_window = *v < 0 ? int(kIntMax) : int(*v);
  if (auto v = fields::number(b, "presence_penalty", -2, 2)) o.presence_penalty = float(*v);
  if (auto v = fields::number(b, "frequency_penalty", -2, 2)) o.frequency_penalty = float(*v);
  if (fields::has(b, "seed")) {
    const json& s = b["seed"];
    if (s.is_number_unsigned())
      o.params.seed = s.get<uint64_t>();
    else
      o.params.seed = uint64_t(
          as_integer("seed", s, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
    o.seeded = true;
  }
  if (fields::has(b, "logit_bias")) {
    const json& bias = b["logit_bias"];
    if (!bias.is_object()) wrong_type("logit_bias", "an object of token id -> bias", bias);
    for (const auto& [key, value] : bias.items()) {
      int id = -1;
      const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
      if (ec != std::errc() || end != key.data() + key.size() || id < 0 || id >= vocab)
        throw bad_request(
            "logit_bias: \"" + key + "\" is not a token id in [0, " + std::to_string(vocab) + ")",
            "logit_bias");
      if (!value.is_number()) wrong_type("logit_bias[\"" + key + "\"]", "a number", value);
      const double v = value.get<double>();
      if (!std::isfinite(v) || v < -100 || v > 100)
        throw bad_request("logit_bias[\"" + key + "\"] must be in [-100, 100], got " + shown(value),
                          "logit_bias");
      o.logit_bias.emplace_back(id, float(v));
    }
  }
}

// Fields chat and completions share.
void parse_common(const json& b, const model::SamplingParams& defaults, int vocab, GenerationParams& p) {
  if (fields::has(b, "model")) p.model = *fields::string(b, "model");
  parse_sampling(b, defaults, vocab, p.sampling);
  // max_completion_tokens wins over max_tokens; n_predict is llama.cpp's spelling.
  for (const char* key : {"n_predict", "max_tokens", "max_completion_tokens"})
    if (auto v = fields::integer(b, key, 1, kIntMax)) p.max_tokens = int(*v);
  if (auto v = fields::integer(b, "min_tokens", 0, kIntMax)) p.min_tokens = int(*v);
  if (auto v = fields::integer(b, "n", 1, 128)) p.n = int(*v);
  if (fields::has(b, "best_of")) {
    const int64_t best_of = as_integer("best_of", b["best_of"], 1, 128);
    if (best_of != p.n) throw bad_request("best_of other than n is not supported", "best_of");
  }
  if (p.max_tokens && p.min_tokens > *p.max_tokens)
    throw bad_request("min_tokens (" + std::to_string(p.min_tokens) + ") must not exceed max_tokens (" +
                          std::to_string(*p.max_tokens) + ")",
                      "min_tokens");
  if (fields::has(b, "stop")) {
    const json& stop = b["stop"];
    if (stop.is_string()) {
      p.stop.push_back(stop.get<std::string>());
    } else if (stop.is_array()) {
      for (size_t i = 0; i < stop.size(); ++i) {
        if (!stop[i].is_string()) wrong_type("stop[" + std::to_string(i) + "]", "a string", stop[i]);
        p.stop.push_back(stop[i].get<std::string>());
      }
    } else {
      wrong_type("stop", "a string or an array of strings", stop);
    }
  }
  if (fields::has(b, "stop_token_ids"))
    p.stop_token_ids = token_ids("stop_token_ids", b["stop_token_ids"], vocab);
  if (auto v = fields::boolean(b, "include_stop_str_in_output")) p.include_stop_str_in_output = *v;
  if (auto v = fields::boolean(b, "ignore_eos")) p.ignore_eos = *v;
  fields::boolean(b, "skip_special_tokens");  // accepted; special tokens are never shown
  if (auto v = fields::boolean(b, "stream")) p.stream = *v;
  if (fields::has(b, "stream_options")) {
    const json& so = b["stream_options"];
    if (!so.is_object()) wrong_type("stream_options", "an object", so);
    if (!p.stream) throw bad_request("stream_options is only allowed when stream is true", "stream_options");
    // vLLM: a stream_options object without include_usage means true.
    p.include_usage = fields::boolean(so, "include_usage").value_or(true);
  }
  if (fields::has(b, "response_format")) {
    const json& rf = b["response_format"];
    if (!rf.is_object()) wrong_type("response_format", "an object", rf);
    const std::string type = fields::string(rf, "type").value_or("text");
    if (type != "text")
      throw bad_request("response_format type \"" + type + "\" is not supported (only \"text\")",
                        "response_format");
  }
  for (const char* key : {"tools", "functions"}) {
    if (!fields::has(b, key)) continue;
    if (!b[key].is_array()) wrong_type(key, "an array", b[key]);
    const bool none = b.contains("tool_choice") && b["tool_choice"] == "none";
    if (!b[key].empty() && !none)
      throw bad_request(std::string(key) + " (tool calling) is not supported", key);
  }
  if (fields::has(b, "suffix") && !(b["suffix"].is_string() && b["suffix"].get<std::string>().empty()))
    throw bad_request("suffix is not supported", "suffix");
  if (fields::has(b, "guided_json") || fields::has(b, "guided_regex") || fields::has(b, "guided_choice") ||
      fields::has(b, "guided_grammar") || fields::has(b, "grammar") || fields::has(b, "json_schema"))
    throw bad_request("guided decoding (grammars, JSON schemas) is not supported");
}

std::string message_content(const json& msg, size_t i, const std::string& role, bool& is_null) {
  const std::string where = "messages[" + std::to_string(i) + "].content";
  is_null = false;
  if (!msg.contains("content") || msg["content"].is_null()) {
    if (role != "assistant") throw bad_request(where + " is required for role \"" + role + "\"", "messages");
    is_null = true;
    return "";
  }
  const json& c = msg["content"];
  if (c.is_string()) return c.get<std::string>();
  if (!c.is_array()) wrong_type(where, "a string or an array of text parts", c);
  std::string text;
  for (size_t j = 0; j < c.size(); ++j) {
    const std::string part = where + "[" + std::to_string(j) + "]";
    if (!c[j].is_object()) wrong_type(part, "an object", c[j]);
    const std::string type = fields::string(c[j], "type").value_or("");
    if (type != "text")
      throw bad_request(part + ": only text parts are supported, got type \"" + type + "\"", "messages");
    const auto t = fields::string(c[j], "text");
    if (!t) throw bad_request(part + ".text is required", "messages");
    text += *t;
  }
  return text;
}

}  // namespace

namespace fields {

bool has(const json& b, const char* key) { return b.is_object() && b.contains(key) && !b[key].is_null(); }

std::optional<bool> boolean(const json& b, const char* key) {
  if (!has(b, key)) return std::nullopt;
  if (!b[key].is_boolean()) wrong_type(key, "a boolean", b[key]);
  return b[key].get<bool>();
}

std::optional<int64_t> integer(const json& b, const char* key, int64_t min, int64_t max) {
  if (!has(b, key)) return std::nullopt;
  return as_integer(key, b[key], min, max);
}

std::optional<double> number(const json& b, const char* key, double min, double max, bool min_exclusive) {
  if (!has(b, key)) return std::nullopt;
  const json& v = b[key];
  if (!v.is_number()) wrong_type(key, "a number", v);
  const double d = v.get<double>();
  if (!std::isfinite(d)) throw bad_request(std::string(key) + " must be a finite number", key);
  if (d < min || (min_exclusive && d == min) || d > max)
    throw bad_request(std::string(key) + " must be in " + (min_exclusive ? "(" : "[") + number_text(min) +
                          ", " + number_text(max) + "], got " + number_text(d),
                      key);
  return d;
}

std::optional<std::string> string(const json& b, const char* key) {
  if (!has(b, key)) return std::nullopt;
  if (!b[key].is_string()) wrong_type(key, "a string", b[key]);
  return b[key].get<std::string>();
}

}  // namespace fields

model::SamplingParams default_sampling(const json& gen) {
  model::SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  p.repetition_penalty = 1.0f;
  p.repetition_window = int(kIntMax);
  if (!gen.is_object()) return p;
  auto num = [&](const char* key, float& out, double lo, double hi) {
    if (gen.contains(key) && gen[key].is_number()) {
      const double v = gen[key].get<double>();
      if (std::isfinite(v) && v >= lo && v <= hi) out = float(v);
    }
  };
  num("temperature", p.temperature, 0, 100);
  num("top_p", p.top_p, 1e-9, 1);
  num("min_p", p.min_p, 0, 1);
  num("repetition_penalty", p.repetition_penalty, 1e-9, 10);
  if (gen.contains("top_k") && gen["top_k"].is_number_integer())
    p.top_k = std::max(0, gen["top_k"].get<int>());
  return p;
}

json parse_json_body(const std::string& body) {
  json b;
  try {
    b = json::parse(body);
  } catch (const json::exception& e) {
    throw bad_request(std::string("the request body is not valid JSON: ") + e.what());
  }
  if (!b.is_object())
    throw bad_request(std::string("the request body must be a JSON object, got ") + b.type_name());
  return b;
}

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }
std::string dump_json(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

GenerationParams parse_chat_request(const json& b, const model::SamplingParams& defaults, int vocab) {
  GenerationParams p;
  p.endpoint = Endpoint::kChat;
  if (!fields::has(b, "messages")) throw bad_request("messages is required", "messages");
  const json& messages = b["messages"];
  if (!messages.is_array()) wrong_type("messages", "an array", messages);
  if (messages.empty()) throw bad_request("messages must contain at least one message", "messages");
  p.messages = nlohmann::ordered_json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const json& m = messages[i];
    const std::string where = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) wrong_type(where, "an object", m);
    if (!fields::has(m, "role")) throw bad_request(where + ".role is required", "messages");
    if (!m["role"].is_string()) wrong_type(where + ".role", "a string", m["role"]);
    std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool")
      throw bad_request(
          where + ".role \"" + role + "\" is not one of system, developer, user, assistant, tool",
          "messages");
    if (m.contains("name") && !m["name"].is_null() && !m["name"].is_string())
      wrong_type(where + ".name", "a string", m["name"]);
    bool null_content = false;
    const std::string content = message_content(m, i, role, null_content);
    // Templates know "system"; OpenAI's "developer" is the same thing.
    if (role == "developer") role = "system";
    nlohmann::ordered_json out = nlohmann::ordered_json::parse(m.dump());
    out["role"] = role;
    out["content"] = null_content && m.contains("tool_calls") ? nlohmann::ordered_json(nullptr)
                                                              : nlohmann::ordered_json(content);
    p.messages.push_back(std::move(out));
  }
  parse_common(b, defaults, vocab, p);
  if (auto v = fields::boolean(b, "add_generation_prompt")) p.add_generation_prompt = *v;
  if (auto v = fields::boolean(b, "continue_final_message")) p.continue_final_message = *v;
  if (p.add_generation_prompt && p.continue_final_message && fields::has(b, "add_generation_prompt"))
    throw bad_request("continue_final_message and add_generation_prompt cannot both be true",
                      "continue_final_message");
  if (p.continue_final_message) p.add_generation_prompt = false;
  if (fields::has(b, "chat_template"))
    throw bad_request("a request's own chat_template is not supported", "chat_template");
  if (fields::has(b, "chat_template_kwargs")) {
    if (!b["chat_template_kwargs"].is_object())
      wrong_type("chat_template_kwargs", "an object", b["chat_template_kwargs"]);
    p.template_kwargs = nlohmann::ordered_json::parse(b["chat_template_kwargs"].dump());
  }
  const bool logprobs = fields::boolean(b, "logprobs").value_or(false);
  const auto top = fields::integer(b, "top_logprobs", 0, 20);
  if (top && *top > 0 && !logprobs)
    throw bad_request("top_logprobs requires logprobs to be true", "top_logprobs");
  if (logprobs) p.logprobs = int(top.value_or(0));
  return p;
}

GenerationParams parse_completion_request(const json& b, const model::SamplingParams& defaults, int vocab) {
  GenerationParams p;
  p.endpoint = Endpoint::kCompletion;
  if (!fields::has(b, "prompt")) throw bad_request("prompt is required", "prompt");
  const json& prompt = b["prompt"];
  if (prompt.is_string()) {
    p.prompts.push_back({prompt.get<std::string>(), {}});
  } else if (prompt.is_array()) {
    if (prompt.empty()) throw bad_request("prompt must not be empty", "prompt");
    if (prompt[0].is_number()) {
      p.prompts.push_back({std::nullopt, token_ids("prompt", prompt, vocab)});
    } else {
      for (size_t i = 0; i < prompt.size(); ++i) {
        const std::string where = "prompt[" + std::to_string(i) + "]";
        if (prompt[i].is_string()) {
          p.prompts.push_back({prompt[i].get<std::string>(), {}});
        } else if (prompt[i].is_array()) {
          if (prompt[i].empty()) throw bad_request(where + " must not be empty", "prompt");
          p.prompts.push_back({std::nullopt, token_ids(where, prompt[i], vocab)});
        } else {
          wrong_type(where, "a string or an array of token ids", prompt[i]);
        }
      }
    }
  } else {
    wrong_type("prompt", "a string, an array of strings or an array of token ids", prompt);
  }
  parse_common(b, defaults, vocab, p);
  if (auto v = fields::boolean(b, "echo")) p.echo = *v;
  if (auto v = fields::boolean(b, "add_special_tokens")) p.add_special_tokens = *v;
  if (fields::has(b, "logprobs")) {
    if (b["logprobs"].is_boolean())
      p.logprobs = b["logprobs"].get<bool>() ? 0 : -1;
    else
      p.logprobs = int(as_integer("logprobs", b["logprobs"], 0, 20));
  }
  return p;
}

}  // namespace nibble::serve
