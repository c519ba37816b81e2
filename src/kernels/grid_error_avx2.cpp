// grid_error, AVX2 build: two 8-float accumulators hold the 16 lanes
// (elements j mod 16 in 0–7, then 8–15); masks are all-ones lanes and the
// tail is loaded with vmaskmovps (kernels/grid_error.h).
#include "kernels/simd.h"

#include <cstdint>

#include "kernels/grid_error.h"
#include "kernels/grid_error_poly.h"

namespace nibble::kernels::avx2 {

namespace {

using namespace grid_error_poly;

inline __m256 lanes_below(int64_t n) {
  return _mm256_castsi256_ps(
      _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n < 8 ? n : 8)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}

// acc + |d|^norm in the lanes of `live` (norm != 2).
__m256 add_power_of_abs(__m256 acc, __m256 d, __m256 norm, __m256 live) {
  const __m256 x = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), d);
  live = _mm256_and_ps(live, _mm256_cmp_ps(x, _mm256_set1_ps(kMinTerm), _CMP_GE_OQ));
  const __m256i bits = _mm256_castps_si256(x);
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x7fffff)),
                                                 _mm256_set1_epi32(0x3f800000)));
  const __m256 high = _mm256_cmp_ps(m, _mm256_set1_ps(kSqrt2), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), high);
  e = _mm256_sub_epi32(e, _mm256_castps_si256(high));  // all-ones lanes are −1
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
  const __m256 t2 = _mm256_mul_ps(t, t);
  __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(kLog2C7), t2, _mm256_set1_ps(kLog2C5));
  p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(kLog2C3));
  p = _mm256_fmadd_ps(p, t2, _mm256_set1_ps(kLog2C1));
  const __m256 log2x = _mm256_fmadd_ps(t, p, _mm256_cvtepi32_ps(e));
  const __m256 y = _mm256_mul_ps(norm, log2x);
  live = _mm256_and_ps(live, _mm256_cmp_ps(y, _mm256_set1_ps(kMinExponent), _CMP_GE_OQ));
  const __m256 overflow = _mm256_and_ps(live, _mm256_cmp_ps(y, _mm256_set1_ps(kMaxExponent), _CMP_GE_OQ));
  live = _mm256_andnot_ps(overflow, live);
  const __m256 k = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_fmsub_ps(norm, log2x, k);
  __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(kExp2C6), f, _mm256_set1_ps(kExp2C5));
  q = _mm256_fmadd_ps(q, f, _mm256_set1_ps(kExp2C4));
  q = _mm256_fmadd_ps(q, f, _mm256_set1_ps(kExp2C3));
  q = _mm256_fmadd_ps(q, f, _mm256_set1_ps(kExp2C2));
  q = _mm256_fmadd_ps(q, f, _mm256_set1_ps(kExp2C1));
  q = _mm256_fmadd_ps(q, f, _mm256_set1_ps(kExp2C0));
  // Lanes outside `live` may hold any k; their sums are discarded.
  const __m256i ki = _mm256_cvtps_epi32(_mm256_and_ps(k, live));
  const __m256 two_k = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(ki, _mm256_set1_epi32(127)), 23));
  acc = _mm256_blendv_ps(acc, _mm256_fmadd_ps(q, two_k, acc), live);
  return _mm256_blendv_ps(acc, _mm256_add_ps(acc, _mm256_set1_ps(__builtin_inff())), overflow);
}

// The 8 elements at w (`live` lanes of them) into acc.
__m256 accumulate(__m256 acc, const float* w, __m256 live, __m256 s, __m256 z, __m256 top, __m256 norm,
                  bool square) {
  const __m256 x = _mm256_maskload_ps(w, _mm256_castps_si256(live));
  __m256 q = _mm256_round_ps(_mm256_div_ps(x, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  q = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(q, z), _mm256_setzero_ps()), top);
  const __m256 d = _mm256_fmsub_ps(s, _mm256_sub_ps(q, z), x);
  return square ? _mm256_blendv_ps(acc, _mm256_fmadd_ps(d, d, acc), live) : add_power_of_abs(acc, d, norm, live);
}

}  // namespace

float grid_error(const float* w, int64_t n, float scale, float zero, float maxq, float norm) {
  const __m256 s = _mm256_set1_ps(scale), z = _mm256_set1_ps(zero), top = _mm256_set1_ps(maxq);
  const __m256 p = _mm256_set1_ps(norm);
  const bool square = norm == 2.0f;
  __m256 low = _mm256_setzero_ps(), high = _mm256_setzero_ps();
  for (int64_t j = 0; j < n; j += kLanes) {
    low = accumulate(low, w + j, lanes_below(n - j), s, z, top, p, square);
    if (n - j > 8) high = accumulate(high, w + j + 8, lanes_below(n - j - 8), s, z, top, p, square);
  }
  alignas(32) float lanes[kLanes];
  _mm256_store_ps(lanes, low);
  _mm256_store_ps(lanes + 8, high);
  float sum = 0;
  for (float lane : lanes) sum += lane;
  return sum;
}

}  // namespace nibble::kernels::avx2
