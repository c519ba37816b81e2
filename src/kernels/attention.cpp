// Picks the attention loops' ISA build (dispatch.h).
#include "kernels/attention.h"

#include <cmath>
#include <vector>

#include "kernels/activations.h"

#include "kernels/dispatch.h"

namespace nibble::kernels {
namespace {

constexpr IsaKernels<AttentionScoresFn> kScores{attention_scores_ref, avx2::attention_scores,
                                                avx512::attention_scores};
constexpr IsaKernels<AttentionMixFn> kMix{attention_mix_ref, avx2::attention_mix,
                                          avx512::attention_mix};
constexpr IsaKernels<AttentionMixF16Fn> kMixF16{attention_mix_f16_ref, avx2::attention_mix_f16,
                                                avx512::attention_mix_f16};

}  // namespace

void attention_scores(const float* q, int heads, const float* key_tiles, int64_t positions,
                      int head_dim, float scale, float* scores) {
  pick(kScores)(q, heads, key_tiles, positions, head_dim, scale, scores);
}

void attention_mix(const float* weights, int heads, const float* values, int64_t positions,
                   int head_dim, float* out) {
  pick(kMix)(weights, heads, values, positions, head_dim, out);
}

void attention_softmax_mix_f16(float* scores, int heads, const float* values, int64_t positions,
                               int head_dim, float* out) {
  // Per position, the running maximum M before it and one exponent: s - M,
  // or M - s where s is a new maximum (then it rescales by e^(M - s) and
  // weighs 1). Both are -|s - M|, so one vectorized exp serves all of them.
  thread_local std::vector<float> rescales, exponents, inverse_sums;  // keep their capacity between calls
  const int64_t total = heads * positions;
  rescales.resize(size_t(total));
  exponents.resize(size_t(total));
  inverse_sums.resize(size_t(heads));
  for (int h = 0; h < heads; ++h) {
    const float* s = scores + h * positions;
    float* before = rescales.data() + h * positions;
    float* e = exponents.data() + h * positions;
    float max = -INFINITY;
    for (int64_t p = 0; p < positions; ++p) {
      before[p] = max;
      e[p] = -std::fabs(s[p] - max);
      max = s[p] > max ? s[p] : max;
    }
  }
  exp_nearest(exponents.data(), exponents.data(), total);
  for (int h = 0; h < heads; ++h) {
    float* s = scores + h * positions;
    float* r = rescales.data() + h * positions;
    const float* e = exponents.data() + h * positions;
    float sum = 0;
    for (int64_t p = 0; p < positions; ++p) {
      const bool new_max = s[p] > r[p];
      r[p] = new_max ? e[p] : 1.0f;
      s[p] = new_max ? 1.0f : e[p];
      sum = new_max ? std::fma(sum, r[p], 1.0f) : sum + s[p];  // fused, as in llama.cpp's build
    }
    inverse_sums[size_t(h)] = sum == 0 ? 0.0f : 1.0f / sum;
  }
  pick(kMixF16)(scores, rescales.data(), heads, values, positions, head_dim, out);
  for (int h = 0; h < heads; ++h)
    for (int d = 0; d < head_dim; ++d) out[h * head_dim + d] *= inverse_sums[size_t(h)];
}

}  // namespace nibble::kernels
