// Attention loops, AVX2 build: as the AVX-512 one (attention_avx512.cpp)
// with 8-float vectors; head_dim tails that are not a multiple of 8 use
// masked loads (vmaskmovps) so no float past the head is read.
#include "kernels/simd.h"

#include <cstdint>

#include "kernels/attention.h"

namespace nibble::kernels::avx2 {
namespace {

// Mix: 64 floats of the output head per pass over the positions, held in
// registers (masked loads cover any head_dim).
constexpr int kMixVectors = 8;

inline __m256i tail_mask(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace

void attention_scores(const float* q, const float* keys, int64_t stride, int64_t positions,
                      int head_dim, float scale, float* scores) {
  const int full = head_dim / 8 * 8;
  const __m256i tail = tail_mask(head_dim - full);
  for (int64_t p = 0; p < positions; ++p) {
    const float* k = keys + p * stride;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int d = 0;
    for (; d + 16 <= full; d += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), _mm256_loadu_ps(k + d + 8), a1);
    }
    if (d < full) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(k + d), a0);
    if (full < head_dim)
      a1 = _mm256_fmadd_ps(_mm256_maskload_ps(q + full, tail), _mm256_maskload_ps(k + full, tail), a1);
    scores[p] = horizontal_sum(_mm256_add_ps(a0, a1)) * scale;
  }
}

void attention_mix(const float* weights, const float* values, int64_t stride, int64_t positions,
                   int head_dim, float* out) {
  for (int d0 = 0; d0 < head_dim; d0 += 8 * kMixVectors) {
    __m256i mask[kMixVectors];
    __m256 acc[kMixVectors];
    for (int i = 0; i < kMixVectors; ++i) {
      const int left = head_dim - d0 - 8 * i;
      mask[i] = tail_mask(left < 0 ? 0 : left);
      acc[i] = _mm256_setzero_ps();
    }
    for (int64_t p = 0; p < positions; ++p) {
      const float* v = values + p * stride + d0;
      const __m256 w = _mm256_set1_ps(weights[p]);
      for (int i = 0; i < kMixVectors; ++i)
        acc[i] = _mm256_fmadd_ps(w, _mm256_maskload_ps(v + 8 * i, mask[i]), acc[i]);
    }
    for (int i = 0; i < kMixVectors; ++i) _mm256_maskstore_ps(out + d0 + 8 * i, mask[i], acc[i]);
  }
}

}  // namespace nibble::kernels::avx2
