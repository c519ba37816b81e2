// Picks the attention loops' ISA build (dispatch.h).
#include "kernels/attention.h"

#include <cmath>
#include <vector>

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
  thread_local std::vector<float> rescales, inverse_sums;  // keep their capacity between calls
  rescales.resize(size_t(heads * positions));
  inverse_sums.resize(size_t(heads));
  for (int h = 0; h < heads; ++h) {
    float* s = scores + h * positions;
    float* r = rescales.data() + h * positions;
    float max = -INFINITY, sum = 0;
    for (int64_t p = 0; p < positions; ++p) {
      if (s[p] > max) {  // a new maximum: the sum so far shrinks, this position weighs 1
        r[p] = std::exp(max - s[p]);
        max = s[p];
        s[p] = 1.0f;
      } else {
        r[p] = 1.0f;
        s[p] = std::exp(s[p] - max);
      }
      sum = r[p] == 1.0f ? sum + s[p] : std::fma(sum, r[p], s[p]);  // fused, as llama.cpp's build; rarely needed
    }
    inverse_sums[size_t(h)] = sum == 0 ? 0.0f : 1.0f / sum;
  }
  pick(kMixF16)(scores, rescales.data(), heads, values, positions, head_dim, out);
  for (int h = 0; h < heads; ++h)
    for (int d = 0; d < head_dim; ++d) out[h * head_dim + d] *= inverse_sums[size_t(h)];
}

}  // namespace nibble::kernels
