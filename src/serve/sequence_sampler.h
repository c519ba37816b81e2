// Sampling for one served sequence: the request's logit bias and OpenAI
// presence/frequency penalties (over the tokens generated so far) applied to
// the model's logits, end tokens masked while min_tokens is not reached,
// then model::Sampler (repetition penalty, temperature, top-k/p, min-p, seed).
// Also the logprobs a request may ask for.
#pragma once

#include <unordered_map>
#include <vector>

#include "model/sampler.h"
#include "serve/protocol.h"
#include "serve/request_stream.h"

namespace nibble::serve {

class SequenceSampler {
 public:
  SequenceSampler(const SamplingOptions& options, int vocab);

  // `history` is prompt + generated tokens; `banned` ids get no chance
  // (end tokens before min_tokens, or with ignore_eos).
  int sample(const float* logits, const std::vector<int>& history, const std::vector<int>& banned);
  // Records a generated token for the presence/frequency penalties.
  void accept(int token) { ++counts_[token]; }

 private:
  SamplingOptions options_;
  int vocab_;
  model::Sampler sampler_;
  std::unordered_map<int, int> counts_;
  std::vector<float> work_;
};

// Log-probability of `chosen` under softmax(logits) and the `top` most likely tokens.
TokenLogprob token_logprobs(const float* logits, int vocab, int chosen, int top);

}  // namespace nibble::serve
