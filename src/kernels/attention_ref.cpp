// Scalar reference of the attention loops (the tests' oracle).
#include "kernels/attention.h"

#include <cmath>

#include "core/half.h"

namespace nibble::kernels {

void attention_scores_ref(const float* q, int heads, const float* key_tiles, int64_t positions,
                          int head_dim, float scale, float* scores) {
  for (int h = 0; h < heads; ++h)
    for (int64_t p = 0; p < positions; ++p) {
      float dot = 0;
      for (int d = 0; d < head_dim; ++d)
        dot += q[h * head_dim + d] * key_tiles[key_tile_offset(p, d, head_dim)];
      scores[h * positions + p] = dot * scale;
    }
}

void attention_mix_ref(const float* weights, int heads, const float* values, int64_t positions,
                       int head_dim, float* out) {
  for (int h = 0; h < heads; ++h) {
    float* o = out + h * head_dim;
    for (int d = 0; d < head_dim; ++d) o[d] = 0;
    for (int64_t p = 0; p < positions; ++p) {
      const float w = weights[h * positions + p];
      for (int d = 0; d < head_dim; ++d) o[d] += w * values[p * head_dim + d];
    }
  }
}

void attention_mix_f16_ref(const float* weights, const float* rescales, int heads, const float* values,
                           int64_t positions, int head_dim, float* out) {
  for (int h = 0; h < heads; ++h) {
    float* o = out + h * head_dim;
    for (int d = 0; d < head_dim; ++d) o[d] = 0;
    for (int64_t p = 0; p < positions; ++p) {
      const float r = rescales[h * positions + p], w = weights[h * positions + p];
      if (r != 1.0f)
        for (int d = 0; d < head_dim; ++d) o[d] = round_to_f16(o[d] * r);
      for (int d = 0; d < head_dim; ++d) o[d] = round_to_f16(std::fma(values[p * head_dim + d], w, o[d]));
    }
  }
}

}  // namespace nibble::kernels
