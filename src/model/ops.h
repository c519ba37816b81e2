// The small elementwise operations of the Llama forward pass. They are a
// few percent of the time next to the matrix products, so they are plain
// loops the compiler vectorizes; the exp-based ones are SIMD kernels
// (kernels/activations.h), as libm's exp does not vectorize.
#pragma once

#include <cstdint>
#include <vector>

#include "io/model_config.h"

namespace nibble::model {

// out[i] = x[i] / rms(x) * weight[i], over n values.
void rmsnorm(const float* x, const float* weight, int64_t n, double eps, float* out);

// In place: y[i] = silu(gate[i]) * y[i].
void silu_mul(const float* gate, float* y, int64_t n);

void softmax(float* x, int64_t n);

// Rotary position embedding for one head dimension size, with the model's
// theta and scaling precomputed as inverse frequencies.
class Rope {
 public:
  explicit Rope(const io::ModelConfig& config);
  // Rotates each head (head_dim values) of one token's q or k at `pos`.
  void apply(float* x, int n_heads, int pos) const;

 private:
  int head_dim_;
  bool interleaved_;
  std::vector<float> inv_freq_;
};

}  // namespace nibble::model
