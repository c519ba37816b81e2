// The attention loops (kernels/attention.h), written once over an ISA's
// vector operations and compiled by each ISA build (attention_avx2.cpp,
// attention_avx512.cpp) for its own: S supplies the float vector F of W
// lanes, its lane mask M, and the few operations below.
//
// Scores: W positions of a key tile at a time, one accumulator per query
// head, fed by one key load and one broadcast query float per dimension,
// so up to 8 independent multiply-add chains keep the FMA ports busy.
// Mix: each value vector loaded once serves up to S::kMixHeads heads, whose
// kMixVectors * W output floats stay in registers while positions stream
// by; with Half (attention_mix_f16) a head's accumulator is rescaled where
// rescales[] != 1 and rounded to fp16 after every step. Tails use masked
// loads and stores: no float past a head or a score row is touched.
//
// Everything here has internal linkage, so no function is shared between
// two ISA builds.
#pragma once

#include <cstdint>

#include "kernels/attention.h"

namespace nibble::kernels {
namespace {

constexpr int kScoreHeads = 8;  // accumulators per tile: enough chains to hide FMA latency
constexpr int kMixVectors = 4;  // vectors of each head per pass over the positions

template <class S, int H>
void score_heads(const float* q, const float* key_tiles, int64_t positions, int head_dim, float scale,
                 float* scores) {
  static_assert(kKeyTile % S::W == 0, "a key tile is whole vectors");
  using F = typename S::F;
  const F s = S::set1(scale);
  for (int64_t p0 = 0; p0 < positions; p0 += S::W) {
    const float* keys = key_tiles + (p0 / kKeyTile) * kKeyTile * head_dim + p0 % kKeyTile;
    F acc[H];
    for (int j = 0; j < H; ++j) acc[j] = S::zero();
    for (int d = 0; d < head_dim; ++d) {
      const F k = S::load(keys + d * kKeyTile);
      for (int j = 0; j < H; ++j) acc[j] = S::fmadd(S::set1(q[j * head_dim + d]), k, acc[j]);
    }
    const typename S::M m = S::first(positions - p0);
    for (int j = 0; j < H; ++j) S::store(scores + j * positions + p0, m, S::mul(acc[j], s));
  }
}

// Heads h ... h + n - 1 (n <= H) of attention_scores.
template <class S, int H = kScoreHeads>
void score_group(int n, const float* q, const float* key_tiles, int64_t positions, int head_dim,
                 float scale, float* scores) {
  if (n == H)
    score_heads<S, H>(q, key_tiles, positions, head_dim, scale, scores);
  else if constexpr (H > 1)
    score_group<S, H - 1>(n, q, key_tiles, positions, head_dim, scale, scores);
}

template <class S>
void attention_scores_body(const float* q, int heads, const float* key_tiles, int64_t positions,
                           int head_dim, float scale, float* scores) {
  for (int h = 0; h < heads; h += kScoreHeads) {
    const int n = heads - h < kScoreHeads ? heads - h : kScoreHeads;
    score_group<S>(n, q + h * head_dim, key_tiles, positions, head_dim, scale, scores + h * positions);
  }
}

// Output dimensions d0 ... d0 + W*V - 1 (the last vector masked to head_dim) of H heads.
template <class S, int H, int V, bool Half>
void mix_heads(const float* weights, const float* rescales, const float* values, int64_t positions,
               int head_dim, int d0, float* out) {
  using F = typename S::F;
  typename S::M mask[V];
  F acc[H][V];
  for (int i = 0; i < V; ++i) mask[i] = S::first(head_dim - d0 - S::W * i);
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < V; ++i) acc[j][i] = S::zero();
  for (int64_t p = 0; p < positions; ++p) {
    const float* v = values + p * head_dim + d0;
    F x[V];
    for (int i = 0; i < V; ++i) x[i] = S::load(v + S::W * i, mask[i]);
    for (int j = 0; j < H; ++j) {
      const F w = S::set1(weights[j * positions + p]);
      if constexpr (Half) {
        const float r = rescales[j * positions + p];
        if (r != 1.0f)
          for (int i = 0; i < V; ++i) acc[j][i] = S::round_to_f16(S::mul(acc[j][i], S::set1(r)));
        for (int i = 0; i < V; ++i) acc[j][i] = S::round_to_f16(S::fmadd(w, x[i], acc[j][i]));
      } else {
        for (int i = 0; i < V; ++i) acc[j][i] = S::fmadd(w, x[i], acc[j][i]);
      }
    }
  }
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < V; ++i) S::store(out + j * head_dim + d0 + S::W * i, mask[i], acc[j][i]);
}

// n <= H heads, `vectors` <= kMixVectors vectors of each.
template <class S, bool Half, int H = S::kMixHeads>
void mix_group(int n, int vectors, const float* weights, const float* rescales, const float* values,
               int64_t positions, int head_dim, int d0, float* out) {
  if (n < H) {
    if constexpr (H > 1)
      mix_group<S, Half, H - 1>(n, vectors, weights, rescales, values, positions, head_dim, d0, out);
    return;
  }
  switch (vectors) {
    case 1: return mix_heads<S, H, 1, Half>(weights, rescales, values, positions, head_dim, d0, out);
    case 2: return mix_heads<S, H, 2, Half>(weights, rescales, values, positions, head_dim, d0, out);
    case 3: return mix_heads<S, H, 3, Half>(weights, rescales, values, positions, head_dim, d0, out);
    default: return mix_heads<S, H, 4, Half>(weights, rescales, values, positions, head_dim, d0, out);
  }
}

template <class S, bool Half>
void attention_mix_body(const float* weights, const float* rescales, int heads, const float* values,
                        int64_t positions, int head_dim, float* out) {
  static_assert(kMixVectors == 4, "mix_group names 1 ... 4 vectors");
  for (int d0 = 0; d0 < head_dim; d0 += S::W * kMixVectors) {
    const int left = (head_dim - d0 + S::W - 1) / S::W;
    const int vectors = left < kMixVectors ? left : kMixVectors;
    for (int h = 0; h < heads; h += S::kMixHeads) {
      const int n = heads - h < S::kMixHeads ? heads - h : S::kMixHeads;
      const float* r = Half ? rescales + h * positions : nullptr;
      mix_group<S, Half>(n, vectors, weights + h * positions, r, values, positions, head_dim, d0,
                         out + h * head_dim);
    }
  }
}

}  // namespace
}  // namespace nibble::kernels
