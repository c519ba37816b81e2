// The two products inside attention over a KV cache, for the `heads` query
// heads that share one KV head (grouped-query attention: all of them at
// once, so each key and value is read once per group, not once per head):
//
//   attention_scores  scores[h * positions + p] = scale * sum_d q[h * head_dim + d] * key(p)[d]
//   attention_mix     out[h * head_dim + d]     = sum_p weights[h * positions + p] * value(p)[d]
//
// The softmax between them stays with the model. The cache layout of one KV
// head is part of the contract (KVCache writes it, these loops read it):
//
//   keys    tiles of kKeyTile positions, tile t = positions kKeyTile*t ...
//           stored transposed, [head_dim][kKeyTile]: one vector load holds
//           one key dimension of 16 positions, so a score is a plain
//           multiply-add chain with no horizontal sum, and the keys stream
//           from memory in order;
//   values  [position][head_dim].
//
// A last, partial key tile may hold anything past `positions` (it is read,
// never used). Single-threaded: the model runs (token, KV head) pairs in
// parallel.
#pragma once

#include <cstdint>

namespace nibble::kernels {

constexpr int kKeyTile = 16;

// Where dimension d of position p's key lies among a KV head's key tiles.
inline int64_t key_tile_offset(int64_t p, int d, int head_dim) {
  return (p / kKeyTile) * kKeyTile * head_dim + int64_t(d) * kKeyTile + p % kKeyTile;
}

// Floats of a KV head's key tiles for `positions` positions (whole tiles).
inline int64_t key_tiles_size(int64_t positions, int head_dim) {
  return (positions + kKeyTile - 1) / kKeyTile * kKeyTile * head_dim;
}

using AttentionScoresFn = void (*)(const float* q, int heads, const float* key_tiles,
                                   int64_t positions, int head_dim, float scale, float* scores);
using AttentionMixFn = void (*)(const float* weights, int heads, const float* values,
                                int64_t positions, int head_dim, float* out);

void attention_scores(const float* q, int heads, const float* key_tiles, int64_t positions,
                      int head_dim, float scale, float* scores);
void attention_mix(const float* weights, int heads, const float* values, int64_t positions,
                   int head_dim, float* out);

void attention_scores_ref(const float* q, int heads, const float* key_tiles, int64_t positions,
                          int head_dim, float scale, float* scores);
void attention_mix_ref(const float* weights, int heads, const float* values, int64_t positions,
                       int head_dim, float* out);

namespace avx2 {
void attention_scores(const float* q, int heads, const float* key_tiles, int64_t positions,
                      int head_dim, float scale, float* scores);
void attention_mix(const float* weights, int heads, const float* values, int64_t positions,
                   int head_dim, float* out);
}  // namespace avx2

namespace avx512 {
void attention_scores(const float* q, int heads, const float* key_tiles, int64_t positions,
                      int head_dim, float scale, float* scores);
void attention_mix(const float* weights, int heads, const float* values, int64_t positions,
                   int head_dim, float* out);
}  // namespace avx512

}  // namespace nibble::kernels
