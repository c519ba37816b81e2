#include "serve/generation_endpoint.h"

#include <chrono>
#include <random>

#include "serve/api_error.h"
#include "serve/responses.h"
#include "serve/sse.h"

namespace nibble::serve {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr std::chrono::milliseconds kPoll{1000};
// A non-streaming request that waits longer than this starts sending
// whitespace (valid before a JSON value) so a closed connection is noticed.
constexpr std::chrono::seconds kJsonKeepAliveAfter{2};

struct Prepared {
  GenerationParams params;
  std::vector<std::vector<int>> prompts;
  std::vector<std::string> echo;  // completions with echo: each prompt's text
};

std::string context_error(int context, int prompt, int requested, bool chat, const std::string& param) {
  return "This model's maximum context length is " + std::to_string(context) +
         " tokens. However, you requested " + std::to_string(prompt + requested) + " tokens (" +
         std::to_string(prompt) + " in the " + (chat ? "messages" : "prompt") + ", " +
         std::to_string(requested) + " in the completion: " + param + "). Please reduce the length of the " +
         (chat ? "messages" : "prompt") + " or completion.";
}

Prepared prepare(ServeContext& ctx, Endpoint endpoint, const std::string& body) {
  Prepared p;
  const json b = parse_json_body(body);
  p.params = endpoint == Endpoint::kChat ? parse_chat_request(b, ctx.sampling_defaults, ctx.vocab)
                                         : parse_completion_request(b, ctx.sampling_defaults, ctx.vocab);
  GenerationParams& g = p.params;
  check_model(ctx, g.model);
  if (endpoint == Endpoint::kChat) {
    p.prompts.push_back(
        ctx.prompts.chat(g.messages, g.add_generation_prompt, g.continue_final_message, g.template_kwargs)
            .tokens);
  } else {
    for (const PromptInput& in : g.prompts) {
      p.prompts.push_back(in.text ? ctx.prompts.encode(*in.text, g.add_special_tokens) : in.ids);
      if (g.echo) p.echo.push_back(in.text ? *in.text : ctx.tokenizer.decode(in.ids));
      if (p.prompts.back().empty()) throw bad_request("the prompt is empty (no tokens)", "prompt");
    }
  }
  const int context = ctx.scheduler.options().context;
  const bool chat = endpoint == Endpoint::kChat;
  const char* prompt_param = chat ? "messages" : "prompt";
  for (const auto& prompt : p.prompts) {
    const int n = int(prompt.size());
    if (n >= context)
      throw bad_request("This model's maximum context length is " + std::to_string(context) +
                            " tokens. However, your request has " + std::to_string(n) +
                            " input tokens. Please reduce the length of the " + prompt_param + ".",
                        prompt_param);
    if (g.max_tokens && n + *g.max_tokens > context)
      throw bad_request(context_error(context, n, *g.max_tokens, chat, "max_tokens"), "max_tokens");
    if (g.min_tokens > context - n)
      throw bad_request(context_error(context, n, g.min_tokens, chat, "min_tokens"), "min_tokens");
  }
  const size_t sequences = p.prompts.size() * size_t(g.n);
  if (sequences > size_t(ctx.scheduler.options().max_queue))
    throw bad_request(std::to_string(sequences) + " sequences (prompts x n) exceed the server's queue of " +
                          std::to_string(ctx.scheduler.options().max_queue),
                      "n");
  return p;
}

std::vector<SequenceSpec> sequence_specs(const Prepared& p, int context) {
  const GenerationParams& g = p.params;
  std::vector<SequenceSpec> specs;
  std::random_device random;
  const uint64_t base_seed =
      g.sampling.seeded ? g.sampling.params.seed : (uint64_t(random()) << 32) ^ random();
  for (size_t i = 0; i < p.prompts.size(); ++i) {
    const int room = context - int(p.prompts[i].size());
    const int max_tokens =
        g.max_tokens ? *g.max_tokens : (g.endpoint == Endpoint::kChat ? room : std::min(16, room));
    for (int j = 0; j < g.n; ++j) {
      SequenceSpec s;
      s.index = int(i) * g.n + j;
      s.prompt = p.prompts[i];
      s.max_tokens = max_tokens;
      s.min_tokens = std::min(g.min_tokens, max_tokens);
      s.sampling = g.sampling;
      s.sampling.params.seed = base_seed + uint64_t(j);
      s.stop = g.stop;
      s.stop_token_ids = g.stop_token_ids;
      s.include_stop_str_in_output = g.include_stop_str_in_output;
      s.ignore_eos = g.ignore_eos;
      s.logprobs = g.logprobs;
      specs.push_back(std::move(s));
    }
  }
  return specs;
}

// Shared by the response writer and the releaser httplib calls at the end.
struct Exchange {
  ServeContext* ctx;
  ResponseMeta meta;
  Prepared prepared;
  std::shared_ptr<RequestStream> stream;
  int choices = 0;
};

std::string failure_message(const ChoiceEvent& e) {
  if (!e.error.empty()) return e.error;
  return e.finish == FinishReason::kAbort ? "the request was aborted (the server is shutting down)"
                                          : "generation failed";
}

bool write(httplib::DataSink& sink, const std::string& s) { return sink.write(s.data(), s.size()); }

bool write_stream(Exchange& x, httplib::DataSink& sink) {
  const GenerationParams& g = x.prepared.params;
  const tokenizer::Tokenizer& tok = x.ctx->tokenizer;
  const bool wants_logprobs = g.logprobs >= 0;
  std::vector<size_t> offsets(size_t(x.choices), 0);
  std::vector<int> completion_tokens(size_t(x.choices), 0);
  // First chunk of each choice: the assistant role (chat) or the echoed prompt.
  for (int i = 0; i < x.choices; ++i) {
    if (g.endpoint == Endpoint::kChat) {
      if (!write(sink,
                 sse_data(dump_json(chunk_json(x.meta, tok, i, "", true, FinishReason::kNone, nullptr, 0)))))
        return false;
    } else if (g.echo) {
      const std::string& text = x.prepared.echo[size_t(i / g.n)];
      offsets[i] = text.size();
      if (!write(sink, sse_data(dump_json(
                           chunk_json(x.meta, tok, i, text, false, FinishReason::kNone, nullptr, 0)))))
        return false;
    }
  }
  while (!x.stream->done()) {
    std::optional<ChoiceEvent> e = x.stream->next(kPoll);
    if (!e) {
      if (x.stream->done()) break;
      if (!write(sink, kSseKeepAlive)) return false;
      continue;
    }
    if (e->finish == FinishReason::kError || e->finish == FinishReason::kAbort) {
      const int status = e->finish == FinishReason::kAbort ? 503 : 500;
      write(sink, sse_data(dump_json(error_body(status, failure_message(*e)))));
      write(sink, kSseDone);
      return true;
    }
    const size_t i = size_t(e->index);
    completion_tokens[i] = e->completion_tokens;
    const json chunk = chunk_json(x.meta, tok, e->index, e->text, false, e->finish,
                                  wants_logprobs ? &e->logprobs : nullptr, offsets[i]);
    for (const TokenLogprob& t : e->logprobs) offsets[i] += token_text(tok, t.id).size();
    if (!write(sink, sse_data(dump_json(chunk)))) return false;
  }
  if (g.include_usage) {
    int total = 0;
    for (int n : completion_tokens) total += n;
    if (!write(sink, sse_data(dump_json(usage_chunk_json(x.meta, x.stream->prompt_tokens(), total)))))
      return false;
  }
  return write(sink, kSseDone);
}

bool write_json(Exchange& x, httplib::DataSink& sink) {
  const GenerationParams& g = x.prepared.params;
  std::vector<ChoiceResult> results(size_t(x.choices));
  if (g.echo)
    for (int i = 0; i < x.choices; ++i) {
      results[i].text = x.prepared.echo[size_t(i / g.n)];
      results[i].logprob_offset = results[i].text.size();
    }
  const Clock::time_point start = Clock::now();
  Clock::time_point last_write = start;
  while (!x.stream->done()) {
    std::optional<ChoiceEvent> e = x.stream->next(kPoll);
    const Clock::time_point now = Clock::now();
    if (now - start > kJsonKeepAliveAfter && now - last_write >= kPoll) {
      if (!write(sink, " ")) return false;
      last_write = now;
    }
    if (!e) continue;
    if (e->finish == FinishReason::kError || e->finish == FinishReason::kAbort) {
      const int status = e->finish == FinishReason::kAbort ? 503 : 500;
      return write(sink, dump_json(error_body(status, failure_message(*e))));
    }
    ChoiceResult& r = results[size_t(e->index)];
    r.text += e->text;
    r.logprobs.insert(r.logprobs.end(), e->logprobs.begin(), e->logprobs.end());
    r.completion_tokens = e->completion_tokens;
    if (e->finish != FinishReason::kNone) r.finish = e->finish;
  }
  return write(sink, dump_json(full_response_json(x.meta, x.ctx->tokenizer, results, g.logprobs >= 0,
                                                  x.stream->prompt_tokens())));
}

}  // namespace

void check_model(const ServeContext& ctx, const std::string& model) {
  if (model.empty() || ctx.options.accept_any_model || model == ctx.options.served_model_name) return;
  for (const std::string& alias : ctx.options.model_aliases)
    if (model == alias) return;
  throw ApiError(404, "The model `" + model + "` does not exist.", "model");
}

void handle_generation(ServeContext& ctx, Endpoint endpoint, const httplib::Request& req,
                       httplib::Response& res) {
  auto x = std::make_shared<Exchange>();
  x->ctx = &ctx;
  x->prepared = prepare(ctx, endpoint, req.body);
  const GenerationParams& g = x->prepared.params;
  x->meta = new_response_meta(endpoint, g.model.empty() ? ctx.options.served_model_name : g.model);
  std::vector<SequenceSpec> specs = sequence_specs(x->prepared, ctx.scheduler.options().context);
  x->choices = int(specs.size());
  x->stream = ctx.scheduler.submit(std::move(specs));

  // Whatever way the exchange ends, a stream not run to its end is cancelled.
  auto release = [x](bool success) {
    if (!success || !x->stream->done()) x->stream->cancel();
  };
  if (g.stream) {
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        kSseContentType,
        [x](size_t, httplib::DataSink& sink) {
          if (!write_stream(*x, sink)) {
            x->stream->cancel();
            return false;
          }
          sink.done();
          return true;
        },
        release);
  } else {
    res.set_chunked_content_provider(
        kJsonContentType,
        [x](size_t, httplib::DataSink& sink) {
          if (!write_json(*x, sink)) {
            x->stream->cancel();
            return false;
          }
          sink.done();
          return true;
        },
        release);
  }
}

}  // namespace nibble::serve
