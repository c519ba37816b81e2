// Attention loops, AVX-512 build: attention_body.h over 16-float vectors,
// so a key tile is one vector and the mix holds 64 floats of 4 heads per
// pass. Tails use mask registers; fp16 rounding is vcvtps2ph/vcvtph2ps.
#include "kernels/simd.h"

#include <cstdint>

#include "kernels/attention.h"
#include "kernels/attention_body.h"

namespace nibble::kernels::avx512 {
namespace {

struct Zmm {
  using F = __m512;
  using M = __mmask16;
  static constexpr int W = 16;
  static constexpr int kMixHeads = 4;  // x kMixVectors accumulators, with the value vectors in registers

  static M first(int64_t n) { return n >= 16 ? M(0xFFFF) : M((1u << n) - 1); }
  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float x) { return _mm512_set1_ps(x); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static F load(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, M m, F v) { _mm512_mask_storeu_ps(p, m, v); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F round_to_f16(F x) {
    return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
};

}  // namespace

void attention_scores(const float* q, int heads, const float* key_tiles, int64_t positions,
                      int head_dim, float scale, float* scores) {
  attention_scores_body<Zmm>(q, heads, key_tiles, positions, head_dim, scale, scores);
}

void attention_mix(const float* weights, int heads, const float* values, int64_t positions,
                   int head_dim, float* out) {
  attention_mix_body<Zmm, false>(weights, nullptr, heads, values, positions, head_dim, out);
}

void attention_mix_f16(const float* weights, const float* rescales, int heads, const float* values,
                       int64_t positions, int head_dim, float* out) {
  attention_mix_body<Zmm, true>(weights, rescales, heads, values, positions, head_dim, out);
}

}  // namespace nibble::kernels::avx512
