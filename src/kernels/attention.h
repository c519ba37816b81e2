// The two products inside attention over a KV cache, for the `heads` query
// heads that share one KV head (grouped-query attention: all of them at
// once, so each key and value is read once per group, not once per head):
//
//   attention_scores  scores[h * positions + p] = scale * sum_d q[h * head_dim + d] * key(p)[d]
//   attention_mix     out[h * head_dim + d]     = sum_p weights[h * positions + p] * value(p)[d]
//
// The softmax between them stays with the model, except in
// attention_softmax_mix_f16 (llama.cpp's decode order, below). The cache
// layout of one KV head is part of the contract (KVCache writes it, these
// loops read it):
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

// llama.cpp's CPU attention over its default F16 cache, for batches under
// kLlamaCppTiledRows query rows (its flash-attention loop), reproduced so
// that a GGUF model continues a prompt as llama.cpp does even at near ties:
// per head, the positions in order keep a running maximum M of the scores
// s; position p weighs exp(s_p - M) (or 1, rescaling the accumulator by
// exp(M_old - s_p), when s_p is a new maximum); the accumulator is rounded
// to fp16 after every multiply-add and every rescale; out = acc / (sum of
// the weights, rescaled alike). `scores` (scaled) is overwritten. The cache
// must hold fp16 values (KVCache with half precision), the queries too.
// This is llama.cpp's order on one thread; with more, over 512 or more
// cached positions, it splits the positions among its threads and merges
// their accumulators in f32.
void attention_softmax_mix_f16(float* scores, int heads, const float* values, int64_t positions,
                               int head_dim, float* out);

// Query rows from which llama.cpp switches to its tiled F32 attention
// (ggml-cpu's flash-attention tile).
constexpr int64_t kLlamaCppTiledRows = 64;

// The accumulation of attention_softmax_mix_f16, given each position's
// weight and the factor the accumulator is rescaled by before it (1: none).
using AttentionMixF16Fn = void (*)(const float* weights, const float* rescales, int heads,
                                   const float* values, int64_t positions, int head_dim, float* out);

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
void attention_mix_f16_ref(const float* weights, const float* rescales, int heads, const float* values,
                           int64_t positions, int head_dim, float* out);

namespace avx2 {
void attention_scores(const float* q, int heads, const float* key_tiles, int64_t positions,
                      int head_dim, float scale, float* scores);
void attention_mix(const float* weights, int heads, const float* values, int64_t positions,
                   int head_dim, float* out);
void attention_mix_f16(const float* weights, const float* rescales, int heads, const float* values,
                       int64_t positions, int head_dim, float* out);
}  // namespace avx2

namespace avx512 {
void attention_scores(const float* q, int heads, const float* key_tiles, int64_t positions,
                      int head_dim, float scale, float* scores);
void attention_mix(const float* weights, int heads, const float* values, int64_t positions,
                   int head_dim, float* out);
void attention_mix_f16(const float* weights, const float* rescales, int heads, const float* values,
                       int64_t positions, int head_dim, float* out);
}  // namespace avx512

}  // namespace nibble::kernels
