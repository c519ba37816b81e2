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

void attention_scores(const float* q, int heads, const float* key_tiles, int64_t positions,
                      int head_dim, float scale, float* scores) {
  pick(kScores)(q, heads, key_tiles, positions, head_dim, scale, scores);
}

void attention_mix(const float* weights, int heads, const float* values, int64_t positions,
                   int head_dim, float* out) {
  pick(kMix)(weights, heads, values, positions, head_dim, out);
}

}  // namespace nibble::kernels
