// bitsandbytes 4-bit and int8 products, AVX2 + FMA build (contract in
// bnb_matmul.h). 4-bit: each 64-value block is decoded once into eight
// registers of table values and reused for a tile of up to kTokens tokens;
// the block sum is scaled by its absmax as in the reference. int8: the
// vpmaddubsw sign trick (|x| as u8 times sign(x)·w as s8), exact in int16
// since codes stay within ±127.
//
// Only intrinsics and <cstdint>: see cmake/isa_flags.cmake.
#include "kernels/simd.h"

#include <cstdint>

#include "kernels/bnb_matmul.h"

namespace nibble::kernels::avx2 {
namespace {

constexpr int kTokens = 4;

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// table[idx] for 8 indices in 0..15, from the table's two 8-lane halves.
inline __m256 lookup(__m128i idx8, __m256 tab_lo, __m256 tab_hi) {
  const __m256i idx = _mm256_cvtepu8_epi32(idx8);
  const __m256 lo = _mm256_permutevar8x32_ps(tab_lo, idx);
  const __m256 hi = _mm256_permutevar8x32_ps(tab_hi, idx);
  const __m256 upper = _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7)));
  return _mm256_blendv_ps(lo, hi, upper);
}

// The 64 table values of the block at q (32 bytes), in column order.
inline void decode_block(const uint8_t* q, __m256 tab_lo, __m256 tab_hi, __m256 w[8]) {
  const __m128i mask = _mm_set1_epi8(15);
  for (int h = 0; h < 2; ++h) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16 * h));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    const __m128i lo = _mm_and_si128(bytes, mask);
    const __m128i first = _mm_unpacklo_epi8(hi, lo);  // values 0..15 of these 32
    const __m128i second = _mm_unpackhi_epi8(hi, lo);  // values 16..31
    w[4 * h + 0] = lookup(first, tab_lo, tab_hi);
    w[4 * h + 1] = lookup(_mm_srli_si128(first, 8), tab_lo, tab_hi);
    w[4 * h + 2] = lookup(second, tab_lo, tab_hi);
    w[4 * h + 3] = lookup(_mm_srli_si128(second, 8), tab_lo, tab_hi);
  }
}

int32_t dot_int8(const int8_t* x, const int8_t* w, int64_t cols) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc = _mm256_setzero_si256();
  int64_t c = 0;
  for (; c + 32 <= cols; c += 32) {
    const __m256i vx = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + c));
    const __m256i vw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + c));
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(vx), _mm256_sign_epi8(vw, vx));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
  }
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  int32_t sum = _mm_cvtsi128_si32(s);
  for (; c < cols; ++c) sum += int32_t(x[c]) * w[c];
  return sum;
}

}  // namespace

void matmul_4bit_rows(const FourBitMatrixView& W, int64_t r0, int64_t r1, const float* X,
                      int64_t n, float* Y, int64_t ldy) {
  const __m256 tab_lo = _mm256_loadu_ps(W.table), tab_hi = _mm256_loadu_ps(W.table + 8);
  const int64_t blocks = W.cols / kBnbBlock;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* q = W.packed + r * W.cols / 2;
    for (int64_t t0 = 0; t0 < n; t0 += kTokens) {
      const int tn = int(n - t0 < kTokens ? n - t0 : kTokens);
      __m256 acc[kTokens];
      for (int t = 0; t < kTokens; ++t) acc[t] = _mm256_setzero_ps();
      for (int64_t b = 0; b < blocks; ++b) {
        __m256 w[8];
        decode_block(q + b * kBnbBlock / 2, tab_lo, tab_hi, w);
        const __m256 scale = _mm256_set1_ps(W.absmax[r * blocks + b]);
        for (int t = 0; t < tn; ++t) {
          const float* x = X + (t0 + t) * W.cols + b * kBnbBlock;
          __m256 s = _mm256_mul_ps(w[0], _mm256_loadu_ps(x));
          for (int k = 1; k < 8; ++k) s = _mm256_fmadd_ps(w[k], _mm256_loadu_ps(x + 8 * k), s);
          acc[t] = _mm256_fmadd_ps(s, scale, acc[t]);
        }
      }
      for (int t = 0; t < tn; ++t) Y[(t0 + t) * ldy + r] = hsum(acc[t]);
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

}  // namespace nibble::kernels::avx2
