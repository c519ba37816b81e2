// Scalar reference of the attention loops (the tests' oracle).
#include "kernels/attention.h"

namespace nibble::kernels {

void attention_scores_ref(const float* q, const float* keys, int64_t stride, int64_t positions,
                          int head_dim, float scale, float* scores) {
  for (int64_t p = 0; p < positions; ++p) {
    const float* k = keys + p * stride;
    float dot = 0;
    for (int d = 0; d < head_dim; ++d) dot += q[d] * k[d];
    scores[p] = dot * scale;
  }
}

void attention_mix_ref(const float* weights, const float* values, int64_t stride,
                       int64_t positions, int head_dim, float* out) {
  for (int d = 0; d < head_dim; ++d) out[d] = 0;
  for (int64_t p = 0; p < positions; ++p) {
    const float* v = values + p * stride;
    for (int d = 0; d < head_dim; ++d) out[d] += weights[p] * v[d];
  }
}

}  // namespace nibble::kernels
