// Integer-weight products, AVX2 build (layout and contract in qmatmul.h; the
// kernel is qmatmul_ymm.h, this file its dot-product step).
//
// vpmaddubsw multiplies the unsigned codes by the int8 activations of their
// 4 columns and adds pairs into int16; vpmaddwd by ones finishes the
// 4-column sums in int32. For codes of up to 4 bits the int16 pair sums of a
// whole 32-column block cannot overflow (8 chunks x 2 x 15 x 127 = 30480),
// so they are added as int16 and widened once per block. 8-bit codes would
// overflow vpmaddubsw (2 x 255 x 127), so they go in as q - 128 with the sign
// trick (|q - 128| x sign-adjusted activations, at most 2 x 128 x 127) and
// the zero point is lowered by 128 to match.
#include "kernels/qmatmul_ymm.h"

namespace nibble::kernels::avx2 {
namespace {

template <int Bits>
struct MaddubsDot {
  static constexpr bool kSignTrick = Bits == 8;
  static constexpr float kZeroShift = kSignTrick ? 128.0f : 0.0f;
  // The add chains are 1-cycle vpaddw/vpaddd: one accumulator suffices.
  template <int N>
  static constexpr int kChains = 1;

  struct Codes {
    __m256i magnitude;  // unsigned operand of vpmaddubsw
    __m256i sign;       // q - 128 (sign trick only)
  };
  static Codes codes(__m256i w) {
    if constexpr (kSignTrick) {
      const __m256i ws = _mm256_xor_si256(w, _mm256_set1_epi8(char(0x80)));  // q - 128 as int8
      return {_mm256_abs_epi8(ws), ws};
    } else {
      return {w, w};
    }
  }
  static __m256i accumulate(__m256i acc, const Codes& w, __m256i x) {
    if constexpr (kSignTrick) {
      const __m256i pairs = _mm256_maddubs_epi16(w.magnitude, _mm256_sign_epi8(x, w.sign));
      return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
    } else {
      return _mm256_add_epi16(acc, _mm256_maddubs_epi16(w.magnitude, x));
    }
  }
  static __m256i sums(__m256i acc) {
    if constexpr (kSignTrick) return acc;
    return _mm256_madd_epi16(acc, _mm256_set1_epi16(1));
  }
};

}  // namespace

void qmatmul_rows(const QuantMatrixView& W, int64_t rb0, int64_t rb1,
                  const QuantActivationsView& X, float* Y, int64_t ldy) {
  ymm::qmatmul_rows<MaddubsDot>(W, rb0, rb1, X, Y, ldy);
}

void quantize_blocks(const float* x, int64_t blocks, int8_t* q, float* scale, int32_t* sum) {
  ymm::quantize_blocks(x, blocks, q, scale, sum);
}

}  // namespace nibble::kernels::avx2
