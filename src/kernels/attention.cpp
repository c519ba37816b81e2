// Picks the attention loops' ISA build (dispatch.h).
#include "kernels/attention.h"

#include "kernels/dispatch.h"

namespace nibble::kernels {
namespace {

constexpr IsaKernels<AttentionScoresFn> kScores{attention_scores_ref, avx2::attention_scores,
                                                avx512::attention_scores};
constexpr IsaKernels<AttentionMixFn> kMix{attention_mix_ref, avx2::attention_mix,
                                          avx512::attention_mix};

}  // namespace

void attention_scores(const float* q, const float* keys, int64_t stride, int64_t positions,
                      int head_dim, float scale, float* scores) {
  pick(kScores)(q, keys, stride, positions, head_dim, scale, scores);
}

void attention_mix(const float* weights, const float* values, int64_t stride, int64_t positions,
                   int head_dim, float* out) {
  pick(kMix)(weights, values, stride, positions, head_dim, out);
}

}  // namespace nibble::kernels
