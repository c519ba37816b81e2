// Attention loops, AVX2 build: attention_body.h over 8-float vectors, so a
// 16-position key tile is two vectors and the mix holds 32 floats of 2
// heads per pass. Tails use vmaskmovps; fp16 rounding is F16C's.
#include "kernels/simd.h"

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/attention_body.h"

namespace nibble::kernels::avx2 {
namespace {

struct Ymm {
  using F = __m256;
  using M = __m256i;
  static constexpr int W = 8;
  static constexpr int kMixHeads = 2;  // x kMixVectors accumulators, with the value vectors in registers

  static M first(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n < 8 ? n : 8)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static F zero() { return _mm256_setzero_ps(); }
  static F set1(float x) { return _mm256_set1_ps(x); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static F load(const float* p, M m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, M m, F v) { _mm256_maskstore_ps(p, m, v); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F round_to_f16(F x) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};

}  // namespace

void attention_scores(const float* q, int heads, const float* key_tiles, int64_t positions,
                      int head_dim, float scale, float* scores) {
  attention_scores_body<Ymm>(q, heads, key_tiles, positions, head_dim, scale, scores);
}

void attention_mix(const float* weights, int heads, const float* values, int64_t positions,
                   int head_dim, float* out) {
  attention_mix_body<Ymm, false>(weights, nullptr, heads, values, positions, head_dim, out);
}

void attention_mix_f16(const float* weights, const float* rescales, int heads, const float* values,
                       int64_t positions, int head_dim, float* out) {
  attention_mix_body<Ymm, true>(weights, rescales, heads, values, positions, head_dim, out);
}

}  // namespace nibble::kernels::avx2
