// bitsandbytes 4-bit and int8 products, AVX-512 build (contract in
// bnb_matmul.h). 4-bit: the whole 16-entry table sits in one register, so
// a block decodes with four vpermps; reused over a tile of tokens as in the
// AVX2 build. int8: vpdpbusd on |x| (u8) and sign(x)·w (s8).
//
// Only intrinsics and <cstdint>: see cmake/isa_flags.cmake.
#include "kernels/simd.h"

#include <cstdint>

#include "kernels/bnb_matmul.h"

namespace nibble::kernels::avx512 {
namespace {

constexpr int kTokens = 4;

// The 64 table values of the block at q (32 bytes), in column order.
inline void decode_block(const uint8_t* q, __m512 table, __m512 w[4]) {
  const __m256i mask = _mm256_set1_epi8(15);
  const __m256i bytes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), mask);
  const __m256i lo = _mm256_and_si256(bytes, mask);
  // Per 128-bit lane: unpacklo holds values 0..15 (lane 0) and 32..47
  // (lane 1), unpackhi 16..31 and 48..63.
  const __m256i a = _mm256_unpacklo_epi8(hi, lo);
  const __m256i b = _mm256_unpackhi_epi8(hi, lo);
  w[0] = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(a)), table);
  w[1] = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(b)), table);
  w[2] = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(a, 1)), table);
  w[3] = _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(b, 1)), table);
}

int32_t dot_int8(const int8_t* x, const int8_t* w, int64_t cols) {
  const __m512i zero = _mm512_setzero_si512();
  __m512i acc = zero;
  for (int64_t c = 0; c < cols; c += 64) {
    const __mmask64 m = cols - c >= 64 ? ~__mmask64(0) : _bzhi_u64(~0ull, unsigned(cols - c));
    const __m512i vx = _mm512_maskz_loadu_epi8(m, x + c);
    const __m512i vw = _mm512_maskz_loadu_epi8(m, w + c);
    const __m512i signed_w = _mm512_mask_sub_epi8(vw, _mm512_movepi8_mask(vx), zero, vw);
    acc = _mm512_dpbusd_epi32(acc, _mm512_abs_epi8(vx), signed_w);
  }
  return _mm512_reduce_add_epi32(acc);
}

}  // namespace

void matmul_4bit_rows(const FourBitMatrixView& W, int64_t r0, int64_t r1, const float* X,
                      int64_t n, float* Y, int64_t ldy) {
  const __m512 table = _mm512_loadu_ps(W.table);
  const int64_t blocks = W.cols / kBnbBlock;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* q = W.packed + r * W.cols / 2;
    for (int64_t t0 = 0; t0 < n; t0 += kTokens) {
      const int tn = int(n - t0 < kTokens ? n - t0 : kTokens);
      __m512 acc[kTokens];
      for (int t = 0; t < kTokens; ++t) acc[t] = _mm512_setzero_ps();
      for (int64_t b = 0; b < blocks; ++b) {
        __m512 w[4];
        decode_block(q + b * kBnbBlock / 2, table, w);
        const __m512 scale = _mm512_set1_ps(W.absmax[r * blocks + b]);
        for (int t = 0; t < tn; ++t) {
          const float* x = X + (t0 + t) * W.cols + b * kBnbBlock;
          __m512 s = _mm512_mul_ps(w[0], _mm512_loadu_ps(x));
          s = _mm512_fmadd_ps(w[1], _mm512_loadu_ps(x + 16), s);
          s = _mm512_fmadd_ps(w[2], _mm512_loadu_ps(x + 32), s);
          s = _mm512_fmadd_ps(w[3], _mm512_loadu_ps(x + 48), s);
          acc[t] = _mm512_fmadd_ps(s, scale, acc[t]);
        }
      }
      for (int t = 0; t < tn; ++t) Y[(t0 + t) * ldy + r] = _mm512_reduce_add_ps(acc[t]);
    }
  }
}

void matmul_int8_rows(const int8_t* cb, const float* scb, int64_t r0, int64_t r1, int64_t cols,
                      const int8_t* XQ, const float* xscale, int64_t n, float* Y, int64_t ldy) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t t = 0; t < n; ++t) {
      const int32_t acc = dot_int8(XQ + t * cols, cb + r * cols, cols);
      Y[t * ldy + r] = float(acc) * (xscale[t] * scb[r] * (1.0f / (127.0f * 127.0f)));
    }
}

}  // namespace nibble::kernels::avx512
