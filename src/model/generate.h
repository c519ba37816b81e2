// The generation loop for one sequence: prefill the prompt in chunks, then
// decode one token at a time until max_tokens, an end-of-generation token,
// or the callback says stop. Reports prefill and decode speed.
#pragma once

#include <functional>
#include <vector>

#include "model/llama.h"
#include "model/sampler.h"

namespace nibble::model {

struct GenerationStats {
  int prompt_tokens = 0;
  int generated_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;  // time for tokens after the first
  double prefill_tokens_per_second() const;
  double decode_tokens_per_second() const;
};

struct GenerationRequest {
  std::vector<int> prompt;
  int max_tokens = 128;
  std::function<bool(int)> is_end;  // end-of-generation token (not emitted)
  // Called with each generated token; returning false stops generation.
  std::function<bool(int)> on_token;
};

GenerationStats generate(LlamaModel& model, KVCache& cache, Sampler& sampler,
                         const GenerationRequest& request);

// Runs the prompt through the model into `slot` of the cache starting at
// position `start`, in chunks of at most `chunk` tokens; returns the last
// token's logits in `logits` (vocab_size floats).
void prefill(LlamaModel& model, KVCache& cache, int slot, const std::vector<int>& tokens,
             int start, float* logits, int chunk = 512);

}  // namespace nibble::model
