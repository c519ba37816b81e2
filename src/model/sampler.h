// Picks the next token from logits: repetition penalty, then temperature,
// then top-k, top-p and min-p filtering, then a draw from the seeded
// generator. temperature 0 means greedy (argmax). Same seed, same output.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace nibble::model {

struct SamplingParams {
  float temperature = 0.8f;
  int top_k = 40;              // 0: off
  float top_p = 0.95f;         // 1: off
  float min_p = 0.05f;         // 0: off; keeps tokens with p >= min_p * p_max
  float repetition_penalty = 1.0f;  // 1: off; divides positive logits of seen tokens
  int repetition_window = 64;       // how many recent tokens the penalty looks at
  uint64_t seed = 0;

  void validate() const;  // throws Error naming the bad parameter
};

class Sampler {
 public:
  explicit Sampler(SamplingParams params);
  // `recent` holds the tokens generated (and prompted) so far, for the penalty.
  int sample(const float* logits, int vocab, const std::vector<int>& recent);
  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<float> work_;
  std::vector<int> order_;
  std::vector<double> probs_;
};

int argmax(const float* x, int n);

}  // namespace nibble::model
