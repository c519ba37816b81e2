// Attention loops, AVX-512 build. Scores: per key tile (16 positions) one
// accumulator per query head, fed by one key load and one broadcast query
// float per dimension, so up to 8 independent multiply-add chains keep both
// FMA ports busy. Mix: each value vector loaded once serves up to 4 heads,
// whose 64-float output slices stay in registers while positions stream by.
#include "kernels/simd.h"

#include <algorithm>
#include <cstdint>

#include "kernels/attention.h"

namespace nibble::kernels::avx512 {
namespace {

static_assert(kKeyTile == 16, "one key tile is one 16-float vector");

constexpr int kScoreHeads = 8;  // accumulators per tile: enough chains to hide FMA latency
constexpr int kMixHeads = 4;    // x kMixVectors accumulators
constexpr int kMixVectors = 4;  // 64 floats of each head per pass over the positions

inline __mmask16 first_lanes(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

inline __m512 round_to_f16(__m512 x) {
  return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

template <int H>
void score_heads(const float* q, const float* key_tiles, int64_t positions, int head_dim, float scale,
                 float* scores) {
  const __m512 s = _mm512_set1_ps(scale);
  for (int64_t p0 = 0; p0 < positions; p0 += kKeyTile) {
    const float* tile = key_tiles + p0 * head_dim;
    __m512 acc[H];
    for (int j = 0; j < H; ++j) acc[j] = _mm512_setzero_ps();
    for (int d = 0; d < head_dim; ++d) {
      const __m512 k = _mm512_loadu_ps(tile + d * kKeyTile);
      for (int j = 0; j < H; ++j) acc[j] = _mm512_fmadd_ps(_mm512_set1_ps(q[j * head_dim + d]), k, acc[j]);
    }
    const __mmask16 m = first_lanes(positions - p0);
    for (int j = 0; j < H; ++j) _mm512_mask_storeu_ps(scores + j * positions + p0, m, _mm512_mul_ps(acc[j], s));
  }
}

using ScoreHeadsFn = void (*)(const float*, const float*, int64_t, int, float, float*);
constexpr ScoreHeadsFn kScoreHeadsFns[kScoreHeads] = {score_heads<1>, score_heads<2>, score_heads<3>,
                                                      score_heads<4>, score_heads<5>, score_heads<6>,
                                                      score_heads<7>, score_heads<8>};

// Output dimensions d0 ... d0 + 16*V - 1 (the last vector masked to head_dim) of H heads.
// Half: attention_mix_f16 (a head's accumulator rescaled where rescales[]
// != 1, and rounded to fp16 after every step).
template <int H, int V, bool Half>
void mix_heads(const float* weights, const float* rescales, const float* values, int64_t positions,
               int head_dim, int d0, float* out) {
  __mmask16 mask[V];
  __m512 acc[H][V];
  for (int i = 0; i < V; ++i) mask[i] = first_lanes(head_dim - d0 - 16 * i);
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < V; ++i) acc[j][i] = _mm512_setzero_ps();
  for (int64_t p = 0; p < positions; ++p) {
    const float* v = values + p * head_dim + d0;
    __m512 x[V];
    for (int i = 0; i < V; ++i) x[i] = _mm512_maskz_loadu_ps(mask[i], v + 16 * i);
    for (int j = 0; j < H; ++j) {
      const __m512 w = _mm512_set1_ps(weights[j * positions + p]);
      if constexpr (Half) {
        const float r = rescales[j * positions + p];
        if (r != 1.0f)
          for (int i = 0; i < V; ++i) acc[j][i] = round_to_f16(_mm512_mul_ps(acc[j][i], _mm512_set1_ps(r)));
        for (int i = 0; i < V; ++i) acc[j][i] = round_to_f16(_mm512_fmadd_ps(w, x[i], acc[j][i]));
      } else {
        for (int i = 0; i < V; ++i) acc[j][i] = _mm512_fmadd_ps(w, x[i], acc[j][i]);
      }
    }
  }
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < V; ++i) _mm512_mask_storeu_ps(out + j * head_dim + d0 + 16 * i, mask[i], acc[j][i]);
}

using MixHeadsFn = void (*)(const float*, const float*, const float*, int64_t, int, int, float*);
template <bool Half>
constexpr MixHeadsFn kMixHeadsFns[kMixHeads][kMixVectors] = {
    {mix_heads<1, 1, Half>, mix_heads<1, 2, Half>, mix_heads<1, 3, Half>, mix_heads<1, 4, Half>},
    {mix_heads<2, 1, Half>, mix_heads<2, 2, Half>, mix_heads<2, 3, Half>, mix_heads<2, 4, Half>},
    {mix_heads<3, 1, Half>, mix_heads<3, 2, Half>, mix_heads<3, 3, Half>, mix_heads<3, 4, Half>},
    {mix_heads<4, 1, Half>, mix_heads<4, 2, Half>, mix_heads<4, 3, Half>, mix_heads<4, 4, Half>}};

}  // namespace

void attention_scores(const float* q, int heads, const float* key_tiles, int64_t positions,
                      int head_dim, float scale, float* scores) {
  for (int h = 0; h < heads; h += kScoreHeads) {
    const int n = std::min(kScoreHeads, heads - h);
    kScoreHeadsFns[n - 1](q + h * head_dim, key_tiles, positions, head_dim, scale, scores + h * positions);
  }
}

template <bool Half>
void mix(const float* weights, const float* rescales, int heads, const float* values, int64_t positions,
         int head_dim, float* out) {
  for (int d0 = 0; d0 < head_dim; d0 += 16 * kMixVectors) {
    const int vectors = std::min(kMixVectors, (head_dim - d0 + 15) / 16);
    for (int h = 0; h < heads; h += kMixHeads) {
      const int n = std::min(kMixHeads, heads - h);
      const float* r = Half ? rescales + h * positions : nullptr;
      kMixHeadsFns<Half>[n - 1][vectors - 1](weights + h * positions, r, values, positions, head_dim, d0,
                                             out + h * head_dim);
    }
  }
}

void attention_mix(const float* weights, int heads, const float* values, int64_t positions,
                   int head_dim, float* out) {
  mix<false>(weights, nullptr, heads, values, positions, head_dim, out);
}

void attention_mix_f16(const float* weights, const float* rescales, int heads, const float* values,
                       int64_t positions, int head_dim, float* out) {
  mix<true>(weights, rescales, heads, values, positions, head_dim, out);
}

}  // namespace nibble::kernels::avx512
