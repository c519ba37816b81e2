// Attention loops, AVX-512 build. Scores: one fused multiply-add chain per
// position over head_dim in 16-float steps (masked tail), then a horizontal
// sum; positions are independent, so their chains overlap. Mix: the output
// head stays in registers while positions stream past.
#include "kernels/simd.h"

#include <cstdint>

#include "kernels/attention.h"

namespace nibble::kernels::avx512 {
namespace {

// Mix: 128 floats of the output head per pass over the positions, held in
// registers (masked loads cover any head_dim).
constexpr int kMixVectors = 8;

inline __mmask16 tail_mask(int n) { return __mmask16((1u << n) - 1); }

}  // namespace

void attention_scores(const float* q, const float* keys, int64_t stride, int64_t positions,
                      int head_dim, float scale, float* scores) {
  const int full = head_dim / 16 * 16;
  const __mmask16 tail = tail_mask(head_dim - full);
  for (int64_t p = 0; p < positions; ++p) {
    const float* k = keys + p * stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int d = 0;
    for (; d + 32 <= full; d += 32) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), _mm512_loadu_ps(k + d), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d + 16), _mm512_loadu_ps(k + d + 16), a1);
    }
    if (d < full) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), _mm512_loadu_ps(k + d), a0);
    if (tail)
      a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, q + full), _mm512_maskz_loadu_ps(tail, k + full), a1);
    scores[p] = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) * scale;
  }
}

void attention_mix(const float* weights, const float* values, int64_t stride, int64_t positions,
                   int head_dim, float* out) {
  for (int d0 = 0; d0 < head_dim; d0 += 16 * kMixVectors) {
    __mmask16 mask[kMixVectors];
    __m512 acc[kMixVectors];
    for (int i = 0; i < kMixVectors; ++i) {
      const int left = head_dim - d0 - 16 * i;
      mask[i] = tail_mask(left < 0 ? 0 : left > 16 ? 16 : left);
      acc[i] = _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < positions; ++p) {
      const float* v = values + p * stride + d0;
      const __m512 w = _mm512_set1_ps(weights[p]);
      for (int i = 0; i < kMixVectors; ++i)
        acc[i] = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mask[i], v + 16 * i), acc[i]);
    }
    for (int i = 0; i < kMixVectors; ++i) _mm512_mask_storeu_ps(out + d0 + 16 * i, mask[i], acc[i]);
  }
}

}  // namespace nibble::kernels::avx512
