// grid_error, AVX-512 build: 16 elements per step, one lane per element
// position mod 16, the tail masked (kernels/grid_error.h).
#include "kernels/simd.h"

#include <cstdint>

#include "kernels/grid_error.h"
#include "kernels/grid_error_poly.h"

namespace nibble::kernels::avx512 {

namespace {

using namespace grid_error_poly;

// acc + |d|^norm in the lanes of `live` (norm != 2).
__m512 add_power_of_abs(__m512 acc, __m512 d, __m512 norm, __mmask16 live) {
  const __m512 x = _mm512_abs_ps(d);
  live &= _mm512_cmp_ps_mask(x, _mm512_set1_ps(kMinTerm), _CMP_GE_OQ);
  const __m512i bits = _mm512_castps_si512(x);
  __m512i e = _mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(127));
  __m512 m = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffff)),
                                                 _mm512_set1_epi32(0x3f800000)));
  const __mmask16 high = _mm512_cmp_ps_mask(m, _mm512_set1_ps(kSqrt2), _CMP_GT_OQ);
  m = _mm512_mask_mul_ps(m, high, m, _mm512_set1_ps(0.5f));
  e = _mm512_mask_add_epi32(e, high, e, _mm512_set1_epi32(1));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 t = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one));
  const __m512 t2 = _mm512_mul_ps(t, t);
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(kLog2C7), t2, _mm512_set1_ps(kLog2C5));
  p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(kLog2C3));
  p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(kLog2C1));
  const __m512 log2x = _mm512_fmadd_ps(t, p, _mm512_cvtepi32_ps(e));
  const __m512 y = _mm512_mul_ps(norm, log2x);
  live &= _mm512_cmp_ps_mask(y, _mm512_set1_ps(kMinExponent), _CMP_GE_OQ);
  const __mmask16 overflow = live & _mm512_cmp_ps_mask(y, _mm512_set1_ps(kMaxExponent), _CMP_GE_OQ);
  live &= ~overflow;
  const __m512 k = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_fmsub_ps(norm, log2x, k);
  __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(kExp2C6), f, _mm512_set1_ps(kExp2C5));
  q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(kExp2C4));
  q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(kExp2C3));
  q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(kExp2C2));
  q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(kExp2C1));
  q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(kExp2C0));
  // Lanes outside `live` may hold any k; they are not used.
  const __m512i ki = _mm512_maskz_cvtps_epi32(live, k);
  const __m512 two_k = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(ki, _mm512_set1_epi32(127)), 23));
  acc = _mm512_mask3_fmadd_ps(q, two_k, acc, live);
  return _mm512_mask_add_ps(acc, overflow, acc, _mm512_set1_ps(__builtin_inff()));
}

}  // namespace

float grid_error(const float* w, int64_t n, float scale, float zero, float maxq, float norm) {
  const __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps(zero), top = _mm512_set1_ps(maxq);
  const __m512 p = _mm512_set1_ps(norm);
  const bool square = norm == 2.0f;
  __m512 acc = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += kLanes) {
    const __mmask16 live = n - j >= kLanes ? __mmask16(0xffff) : __mmask16((1u << (n - j)) - 1);
    const __m512 x = _mm512_maskz_loadu_ps(live, w + j);
    __m512 q = _mm512_roundscale_ps(_mm512_div_ps(x, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(q, z), _mm512_setzero_ps()), top);
    const __m512 d = _mm512_fmsub_ps(s, _mm512_sub_ps(q, z), x);
    acc = square ? _mm512_mask3_fmadd_ps(d, d, acc, live) : add_power_of_abs(acc, d, p, live);
  }
  alignas(64) float lanes[kLanes];
  _mm512_store_ps(lanes, acc);
  float sum = 0;
  for (float lane : lanes) sum += lane;
  return sum;
}

}  // namespace nibble::kernels::avx512
