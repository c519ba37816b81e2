// Integer-weight products, 256-bit VNNI builds (layout and contract in
// qmatmul.h; the kernel is qmatmul_ymm.h, this file its dot-product step).
//
// vpdpbusd multiplies the unsigned codes by the int8 activations of their 4
// columns and adds the 4 products straight into the int32 lane: one
// instruction where AVX2 needs vpmaddubsw + vpmaddwd, and no int16
// intermediate, so 8-bit codes need neither the sign trick nor a zero shift.
//
// This source is built twice (cmake/isa_flags.cmake):
//   qmatmul_avxvnni.cpp       -mavxvnni: the VEX vpdpbusd of AVX-VNNI CPUs
//                             without AVX-512 (Alder Lake and later clients)
//   qmatmul_avxvnni_evex.cpp  -mavx512vnni -mavx512vl: its EVEX twin, the
//                             same operation, for AVX-512 VNNI CPUs without
//                             AVX-VNNI (Ice Lake, Cascade Lake, Zen 4)
// Both are level Isa::avxvnni; kernels/dispatch.h picks the encoding.
#include "kernels/qmatmul_ymm.h"

#if defined(__AVXVNNI__)
namespace nibble::kernels::avxvnni {
#elif defined(__AVX512VNNI__) && defined(__AVX512VL__)
namespace nibble::kernels::avxvnni_evex {
#else
#error "qmatmul_avxvnni.cpp needs -mavxvnni or -mavx512vnni -mavx512vl (cmake/isa_flags.cmake)"
#endif
namespace {

template <int Bits>
struct VnniDot {
  static constexpr float kZeroShift = 0.0f;
  // vpdpbusd has a 5-cycle latency, so the 8 chunks of a block go to two
  // alternating accumulators per (half, token) in decode (2 x 2) and
  // 3-token prefill tiles (3 x 2). On a Sapphire Rapids-class Xeon, 1
  // thread, 2048 x 2048: 4 per half in decode was no faster, and one per
  // token in prefill 10% slower than two.
  template <int N>
  static constexpr int kChains = N < 4 ? 2 : 1;

  using Codes = __m256i;
  static Codes codes(__m256i w) { return w; }
  static __m256i accumulate(__m256i acc, Codes w, __m256i x) {
#if defined(__AVXVNNI__)
    return _mm256_dpbusd_avx_epi32(acc, w, x);
#else
    return _mm256_dpbusd_epi32(acc, w, x);
#endif
  }
  static __m256i sums(__m256i acc) { return acc; }
};

}  // namespace

void qmatmul_rows(const QuantMatrixView& W, int64_t rb0, int64_t rb1,
                  const QuantActivationsView& X, float* Y, int64_t ldy) {
  ymm::qmatmul_rows<VnniDot>(W, rb0, rb1, X, Y, ldy);
}

void quantize_blocks(const float* x, int64_t blocks, int8_t* q, float* scale, int32_t* sum) {
  ymm::quantize_blocks(x, blocks, q, scale, sum);
}

}  // namespace nibble::kernels::avxvnni / avxvnni_evex
