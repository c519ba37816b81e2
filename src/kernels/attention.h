// The two products inside one query head's attention over the positions of
// a KV cache, where a position's key (or value) for this head is head_dim
// floats and consecutive positions are `stride` floats apart:
//
//   attention_scores  scores[p] = scale * sum_d q[d] * keys[p * stride + d]
//   attention_mix     out[d]    = sum_p weights[p] * values[p * stride + d]
//
// The softmax between them stays with the model. At a few hundred positions
// these loops cost as much as a 1B model's weight streaming if left to the
// baseline (SSE2) build, so they get the per-ISA treatment of dispatch.h.
// Single-threaded: the model already runs (token, head) pairs in parallel.
#pragma once

#include <cstdint>

namespace nibble::kernels {

using AttentionScoresFn = void (*)(const float* q, const float* keys, int64_t stride,
                                   int64_t positions, int head_dim, float scale, float* scores);
using AttentionMixFn = void (*)(const float* weights, const float* values, int64_t stride,
                                int64_t positions, int head_dim, float* out);

void attention_scores(const float* q, const float* keys, int64_t stride, int64_t positions,
                      int head_dim, float scale, float* scores);
void attention_mix(const float* weights, const float* values, int64_t stride, int64_t positions,
                   int head_dim, float* out);

void attention_scores_ref(const float* q, const float* keys, int64_t stride, int64_t positions,
                          int head_dim, float scale, float* scores);
void attention_mix_ref(const float* weights, const float* values, int64_t stride,
                       int64_t positions, int head_dim, float* out);

namespace avx2 {
void attention_scores(const float* q, const float* keys, int64_t stride, int64_t positions,
                      int head_dim, float scale, float* scores);
void attention_mix(const float* weights, const float* values, int64_t stride, int64_t positions,
                   int head_dim, float* out);
}  // namespace avx2

namespace avx512 {
void attention_scores(const float* q, const float* keys, int64_t stride, int64_t positions,
                      int head_dim, float scale, float* scores);
void attention_mix(const float* weights, const float* values, int64_t stride, int64_t positions,
                   int head_dim, float* out);
}  // namespace avx512

}  // namespace nibble::kernels
