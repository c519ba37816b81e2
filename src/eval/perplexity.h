// Perplexity of a model on a token sequence.
//
// Windowing (stated in the README and printed by `nibble ppl`):
//   * stride == ctx (default): the tokens are cut into floor(N / ctx)
//     non-overlapping windows of ctx tokens; the tail is dropped. Each window
//     is scored on its own from position 0, and every next-token prediction
//     inside it counts (ctx - 1 per window). This is the protocol of the
//     bundled model's reference.json and of llama.cpp's perplexity tool
//     except that llama.cpp scores only the second half of each window.
//   * stride < ctx: windows of ctx tokens start every `stride` tokens (the
//     Hugging Face sliding-window recipe); the first window scores all its
//     predictions, each later one only its last `stride` tokens, so every
//     token is predicted once with up to ctx - stride tokens of context.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "model/llama.h"

namespace nibble::eval {

struct PerplexityResult {
  double perplexity = 0;
  double mean_nll = 0;
  int64_t tokens_scored = 0;
  int windows = 0;
  double seconds = 0;
};

struct PerplexityOptions {
  int ctx = 0;     // window length; 0: the model's context (capped at 4096)
  int stride = 0;  // 0: same as ctx
  int max_windows = 0;  // 0: all
  bool progress = true;
};

PerplexityResult perplexity(model::LlamaModel& model, const std::vector<int>& tokens,
                            PerplexityOptions options);

// The windowing that `perplexity` applies, in one sentence, for printing.
std::string describe_windowing(int64_t n_tokens, const PerplexityOptions& options);

}  // namespace nibble::eval
