#include "model/generate.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"

namespace nibble::model {

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

double GenerationStats::prefill_tokens_per_second() const {
  return prefill_seconds > 0 ? prompt_tokens / prefill_seconds : 0;
}

double GenerationStats::decode_tokens_per_second() const {
  return decode_seconds > 0 ? (generated_tokens - 1) / decode_seconds : 0;
}

void prefill(LlamaModel& model, KVCache& cache, int slot, const std::vector<int>& tokens,
             int start, float* logits, int chunk) {
  std::vector<BatchToken> batch;
  for (size_t i = 0; i < tokens.size(); i += size_t(chunk)) {
    const size_t end = std::min(tokens.size(), i + size_t(chunk));
    batch.clear();
    for (size_t j = i; j < end; ++j)
      batch.push_back({tokens[j], start + int(j), slot, j + 1 == tokens.size()});
    model.forward(batch, cache, logits);
  }
}

GenerationStats generate(LlamaModel& model, KVCache& cache, Sampler& sampler,
                         const GenerationRequest& req) {
  NIBBLE_CHECK(!req.prompt.empty(), "the prompt is empty (no tokens)");
  NIBBLE_CHECK(int(req.prompt.size()) < cache.context(), "the prompt has ", req.prompt.size(),
               " tokens, the context holds ", cache.context());
  GenerationStats stats;
  stats.prompt_tokens = int(req.prompt.size());
  std::vector<float> logits(size_t(model.vocab_size()));
  std::vector<int> history = req.prompt;

  auto t0 = std::chrono::steady_clock::now();
  prefill(model, cache, 0, req.prompt, 0, logits.data());
  stats.prefill_seconds = seconds_since(t0);

  auto t1 = std::chrono::steady_clock::now();
  int pos = int(req.prompt.size());
  std::vector<BatchToken> step(1);
  while (stats.generated_tokens < req.max_tokens) {
    const int token = sampler.sample(logits.data(), model.vocab_size(), history);
    if (stats.generated_tokens == 0) t1 = std::chrono::steady_clock::now();
    if (req.is_end && req.is_end(token)) break;
    ++stats.generated_tokens;
    history.push_back(token);
    if (req.on_token && !req.on_token(token)) break;
    if (stats.generated_tokens == req.max_tokens || pos >= cache.context()) break;
    step[0] = {token, pos++, 0, true};
    model.forward(step, cache, logits.data());
  }
  stats.decode_seconds = stats.generated_tokens > 1 ? seconds_since(t1) : 0;
  return stats;
}

}  // namespace nibble::model
