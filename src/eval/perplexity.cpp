#include "eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/error.h"
#include "core/progress.h"

namespace nibble::eval {

namespace {

struct Window {
  int64_t begin;       // first token of the window
  int first_scored;    // first position inside the window whose prediction counts (>= 1)
};

int resolve_ctx(const model::LlamaModel& model, const PerplexityOptions& o) {
  return o.ctx > 0 ? o.ctx : std::min(model.config().max_position_embeddings, 4096);
}

std::vector<Window> plan_windows(int64_t n, int ctx, int stride) {
  std::vector<Window> windows;
  if (stride >= ctx) {
    for (int64_t w = 0; (w + 1) * ctx <= n; ++w) windows.push_back({w * ctx, 1});
  } else {
    for (int64_t begin = 0; begin + ctx <= n; begin += stride)
      windows.push_back({begin, begin == 0 ? 1 : ctx - stride});
  }
  return windows;
}

// -log softmax(logits)[target], computed stably in double.
double nll(const float* logits, int vocab, int target) {
  const float max = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - max);
  return std::log(sum) + max - logits[target];
}

}  // namespace

std::string describe_windowing(int64_t n, const PerplexityOptions& o) {
  const int ctx = o.ctx, stride = o.stride > 0 ? o.stride : ctx;
  if (stride >= ctx)
    return cat(n, " tokens cut into ", n / ctx, " non-overlapping windows of ", ctx,
               " (tail of ", n % ctx, " dropped); each window scored from position 0, all ",
               ctx - 1, " predictions per window count");
  return cat(n, " tokens, windows of ", ctx, " every ", stride,
             " tokens; the first window scores all its predictions, later ones their last ",
             stride);
}

PerplexityResult perplexity(model::LlamaModel& model, const std::vector<int>& tokens,
                            PerplexityOptions o) {
  o.ctx = resolve_ctx(model, o);
  if (o.stride <= 0) o.stride = o.ctx;
  NIBBLE_CHECK(o.ctx >= 2, "--ctx must be at least 2, got ", o.ctx);
  NIBBLE_CHECK(o.stride <= o.ctx, "--stride ", o.stride, " must not exceed --ctx ", o.ctx);
  std::vector<Window> windows = plan_windows(int64_t(tokens.size()), o.ctx, o.stride);
  NIBBLE_CHECK(!windows.empty(), "the text has ", tokens.size(),
               " tokens, fewer than one window of ", o.ctx, " (lower --ctx)");
  if (o.max_windows > 0 && int(windows.size()) > o.max_windows) windows.resize(size_t(o.max_windows));

  const int vocab = model.vocab_size();
  const int chunk = std::min(o.ctx, 512);
  model::KVCache cache(model.config(), 1, o.ctx);
  std::vector<float> logits(size_t(chunk) * vocab);
  std::vector<model::BatchToken> batch;
  const auto start = std::chrono::steady_clock::now();
  double total = 0;
  int64_t scored = 0;
  Progress progress("perplexity", int64_t(windows.size()), "windows", o.progress);
  for (size_t w = 0; w < windows.size(); ++w) {
    const Window& win = windows[w];
    for (int c0 = 0; c0 < o.ctx; c0 += chunk) {
      const int c1 = std::min(o.ctx, c0 + chunk);
      batch.clear();
      // Position p predicts token p + 1; the last position predicts nothing.
      for (int p = c0; p < c1; ++p)
        batch.push_back({tokens[win.begin + p], p, 0, p + 1 < o.ctx && p + 1 >= win.first_scored});
      model.forward(batch, cache, logits.data());
      int row = 0;
      for (int p = c0; p < c1; ++p) {
        if (!batch[p - c0].logits) continue;
        total += nll(&logits[size_t(row++) * vocab], vocab, tokens[win.begin + p + 1]);
        ++scored;
      }
    }
    progress.update(int64_t(w + 1), cat("ppl ", std::exp(total / double(scored))));
  }
  progress.finish();
  PerplexityResult r;
  r.mean_nll = total / double(scored);
  r.perplexity = std::exp(r.mean_nll);
  r.tokens_scored = scored;
  r.windows = int(windows.size());
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace nibble::eval
