// Scalar references of the activations, with libm's exp.
#include <algorithm>
#include <cmath>

#include "kernels/activations.h"

namespace nibble::kernels {

void exp_nearest_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = float(std::exp(double(x[i])));
}

void softmax_ref(float* x, int64_t n) {
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = std::max(max, x[i]);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - max));
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void silu_mul_ref(const float* gate, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= gate[i] / (1.0f + std::exp(-gate[i]));
}

}  // namespace nibble::kernels
