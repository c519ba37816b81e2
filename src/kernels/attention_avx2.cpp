// Attention loops, AVX2 build: as the AVX-512 one (attention_avx512.cpp)
// with 8-float vectors, so a 16-position key tile is two vectors and the
// mix holds 32 floats of 2 heads per pass. Tails use masked loads and
// stores (vmaskmovps): no float past a head or a score row is touched.
#include "kernels/simd.h"

#include <algorithm>
#include <cstdint>

#include "kernels/attention.h"

namespace nibble::kernels::avx2 {
namespace {

constexpr int kScoreHeads = 8;
constexpr int kMixHeads = 2;
constexpr int kMixVectors = 4;

inline __m256i first_lanes(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(std::min<int64_t>(n, 8))),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline __m256 round_to_f16(__m256 x) {
  return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

// Scores of positions p0 ... p0 + 7 (half a key tile) at a time.
template <int H>
void score_heads(const float* q, const float* key_tiles, int64_t positions, int head_dim, float scale,
                 float* scores) {
  const __m256 s = _mm256_set1_ps(scale);
  for (int64_t p0 = 0; p0 < positions; p0 += 8) {
    const float* keys = key_tiles + (p0 / kKeyTile) * kKeyTile * head_dim + p0 % kKeyTile;
    __m256 acc[H];
    for (int j = 0; j < H; ++j) acc[j] = _mm256_setzero_ps();
    for (int d = 0; d < head_dim; ++d) {
      const __m256 k = _mm256_loadu_ps(keys + d * kKeyTile);
      for (int j = 0; j < H; ++j) acc[j] = _mm256_fmadd_ps(_mm256_broadcast_ss(q + j * head_dim + d), k, acc[j]);
    }
    const __m256i m = first_lanes(positions - p0);
    for (int j = 0; j < H; ++j) _mm256_maskstore_ps(scores + j * positions + p0, m, _mm256_mul_ps(acc[j], s));
  }
}

using ScoreHeadsFn = void (*)(const float*, const float*, int64_t, int, float, float*);
constexpr ScoreHeadsFn kScoreHeadsFns[kScoreHeads] = {score_heads<1>, score_heads<2>, score_heads<3>,
                                                      score_heads<4>, score_heads<5>, score_heads<6>,
                                                      score_heads<7>, score_heads<8>};

// Half: attention_mix_f16 (a head's accumulator rescaled where rescales[]
// != 1, and rounded to fp16 after every step).
template <int H, int V, bool Half>
void mix_heads(const float* weights, const float* rescales, const float* values, int64_t positions,
               int head_dim, int d0, float* out) {
  __m256i mask[V];
  __m256 acc[H][V];
  for (int i = 0; i < V; ++i) mask[i] = first_lanes(head_dim - d0 - 8 * i);
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < V; ++i) acc[j][i] = _mm256_setzero_ps();
  for (int64_t p = 0; p < positions; ++p) {
    const float* v = values + p * head_dim + d0;
    __m256 x[V];
    for (int i = 0; i < V; ++i) x[i] = _mm256_maskload_ps(v + 8 * i, mask[i]);
    for (int j = 0; j < H; ++j) {
      const __m256 w = _mm256_broadcast_ss(weights + j * positions + p);
      if constexpr (Half) {
        const float r = rescales[j * positions + p];
        if (r != 1.0f)
          for (int i = 0; i < V; ++i) acc[j][i] = round_to_f16(_mm256_mul_ps(acc[j][i], _mm256_set1_ps(r)));
        for (int i = 0; i < V; ++i) acc[j][i] = round_to_f16(_mm256_fmadd_ps(w, x[i], acc[j][i]));
      } else {
        for (int i = 0; i < V; ++i) acc[j][i] = _mm256_fmadd_ps(w, x[i], acc[j][i]);
      }
    }
  }
  for (int j = 0; j < H; ++j)
    for (int i = 0; i < V; ++i) _mm256_maskstore_ps(out + j * head_dim + d0 + 8 * i, mask[i], acc[j][i]);
}

using MixHeadsFn = void (*)(const float*, const float*, const float*, int64_t, int, int, float*);
template <bool Half>
constexpr MixHeadsFn kMixHeadsFns[kMixHeads][kMixVectors] = {
    {mix_heads<1, 1, Half>, mix_heads<1, 2, Half>, mix_heads<1, 3, Half>, mix_heads<1, 4, Half>},
    {mix_heads<2, 1, Half>, mix_heads<2, 2, Half>, mix_heads<2, 3, Half>, mix_heads<2, 4, Half>}};

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
  for (int d0 = 0; d0 < head_dim; d0 += 8 * kMixVectors) {
    const int vectors = std::min(kMixVectors, (head_dim - d0 + 7) / 8);
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

}  // namespace nibble::kernels::avx2
