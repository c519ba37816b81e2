#include "serve/responses.h"

#include <chrono>
#include <random>

namespace nibble::serve {

using json = nlohmann::ordered_json;

namespace {
std::string random_hex(int n) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < n; ++i) s += digits[rng() % 16];
  return s;
}

json bytes_json(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

const char* finish_json(FinishReason r) {
  // Aborted/failed choices never reach a client as such; report them as stop.
  return r == FinishReason::kLength ? "length" : "stop";
}
}  // namespace

ResponseMeta new_response_meta(Endpoint endpoint, std::string model) {
  ResponseMeta m;
  m.endpoint = endpoint;
  m.id = (endpoint == Endpoint::kChat ? "chatcmpl-" : "cmpl-") + random_hex(24);
  m.created =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  m.model = std::move(model);
  return m;
}

json usage_json(int prompt_tokens, int completion_tokens) {
  return {{"prompt_tokens", prompt_tokens},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt_tokens + completion_tokens}};
}

std::string token_text(const tokenizer::Tokenizer& tok, int id) {
  std::string piece = tok.id_to_piece(id);
  // Byte-fallback pieces "<0xNN>".
  if (piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>') {
    try {
      return std::string(1, char(std::stoi(piece.substr(3, 2), nullptr, 16)));
    } catch (...) {
      return piece;
    }
  }
  static const std::string kSpace = "\xe2\x96\x81";  // SentencePiece's "▁"
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSpace.size(), kSpace) == 0) {
      out += ' ';
      i += kSpace.size();
    } else {
      out += piece[i++];
    }
  }
  return out;
}

json chat_logprobs_json(const tokenizer::Tokenizer& tok, const std::vector<TokenLogprob>& lp) {
  json content = json::array();
  for (const TokenLogprob& t : lp) {
    const std::string text = token_text(tok, t.id);
    json top = json::array();
    for (const auto& [id, logprob] : t.top) {
      const std::string alt = token_text(tok, id);
      top.push_back({{"token", alt}, {"logprob", logprob}, {"bytes", bytes_json(alt)}});
    }
    content.push_back(
        {{"token", text}, {"logprob", t.logprob}, {"bytes", bytes_json(text)}, {"top_logprobs", top}});
  }
  return {{"content", content}};
}

json completion_logprobs_json(const tokenizer::Tokenizer& tok, const std::vector<TokenLogprob>& lp,
                              size_t offset) {
  json tokens = json::array(), token_logprobs = json::array(), top = json::array(), offsets = json::array();
  for (const TokenLogprob& t : lp) {
    const std::string text = token_text(tok, t.id);
    tokens.push_back(text);
    token_logprobs.push_back(t.logprob);
    json alts = json::object();
    for (const auto& [id, logprob] : t.top) alts[token_text(tok, id)] = logprob;
    top.push_back(alts);
    offsets.push_back(offset);
    offset += text.size();
  }
  return {{"tokens", tokens},
          {"token_logprobs", token_logprobs},
          {"top_logprobs", top},
          {"text_offset", offsets}};
}

json full_response_json(const ResponseMeta& meta, const tokenizer::Tokenizer& tok,
                        const std::vector<ChoiceResult>& choices, bool wants_logprobs, int prompt_tokens) {
  const bool chat = meta.endpoint == Endpoint::kChat;
  json out_choices = json::array();
  int completion_tokens = 0;
  for (size_t i = 0; i < choices.size(); ++i) {
    const ChoiceResult& c = choices[i];
    completion_tokens += c.completion_tokens;
    json logprobs = nullptr;
    if (wants_logprobs)
      logprobs = chat ? chat_logprobs_json(tok, c.logprobs)
                      : completion_logprobs_json(tok, c.logprobs, c.logprob_offset);
    json choice = {{"index", i}};
    if (chat)
      choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    else
      choice["text"] = c.text;
    choice["logprobs"] = logprobs;
    choice["finish_reason"] = finish_json(c.finish);
    out_choices.push_back(std::move(choice));
  }
  return {{"id", meta.id},
          {"object", chat ? "chat.completion" : "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"system_fingerprint", kSystemFingerprint},
          {"choices", out_choices},
          {"usage", usage_json(prompt_tokens, completion_tokens)}};
}

json chunk_json(const ResponseMeta& meta, const tokenizer::Tokenizer& tok, int index, const std::string& text,
                bool first, FinishReason finish, const std::vector<TokenLogprob>* logprobs,
                size_t logprob_offset) {
  const bool chat = meta.endpoint == Endpoint::kChat;
  json choice = {{"index", index}};
  if (chat) {
    json delta = json::object();
    if (first) delta["role"] = "assistant";
    if (first || !text.empty()) delta["content"] = text;
    choice["delta"] = delta;
  } else {
    choice["text"] = text;
  }
  choice["logprobs"] = logprobs ? (chat ? chat_logprobs_json(tok, *logprobs)
                                        : completion_logprobs_json(tok, *logprobs, logprob_offset))
                                : json(nullptr);
  choice["finish_reason"] = finish == FinishReason::kNone ? json(nullptr) : json(finish_json(finish));
  return {{"id", meta.id},
          {"object", chat ? "chat.completion.chunk" : "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"system_fingerprint", kSystemFingerprint},
          {"choices", json::array({choice})}};
}

json usage_chunk_json(const ResponseMeta& meta, int prompt_tokens, int completion_tokens) {
  return {{"id", meta.id},
          {"object", meta.endpoint == Endpoint::kChat ? "chat.completion.chunk" : "text_completion"},
          {"created", meta.created},
          {"model", meta.model},
          {"system_fingerprint", kSystemFingerprint},
          {"choices", json::array()},
          {"usage", usage_json(prompt_tokens, completion_tokens)}};
}

}  // namespace nibble::serve
