// Integer-weight products on 256-bit vectors (layout and contract in
// qmatmul.h): the one kernel behind the AVX2 build and the 256-bit VNNI
// builds, which differ only in the dot-product step, a policy Dot<Bits>:
//
//   Dot<Bits>::Codes     what one code vector becomes before it meets the
//                        activations (prepared once, used by every token)
//   codes(w)             that preparation
//   accumulate(acc, c, x)  acc += the 4-column dot products of the codes
//                        with x, the int8 activations of those 4 columns
//                        broadcast to every lane
//   sums(acc)            the per-block int32 sums, from acc
//   kZeroShift           what the step subtracted from every code (the zero
//                        point is lowered by as much)
//   kChains<N>           independent accumulators per (half, token) when a
//                        tile holds N of those
//
// (qmatmul_avx2.cpp: vpmaddubsw + vpmaddwd; qmatmul_avxvnni.cpp: vpdpbusd.)
//
// A ymm holds half of a 64-byte code vector: 8 rows x 4 columns (rows 0..7
// in bytes 0..31, rows 8..15 in bytes 32..63). Decode walks both halves of a
// row block at once (one broadcast feeds both) with an L2 prefetch 16 KB
// ahead; prefill tiles one half by kTokens tokens.
//
// Everything here sits in an anonymous namespace: each ISA build that
// includes it compiles its own private copy with its own instruction set,
// so no symbol is shared between two ISA builds (kernels/dispatch.h). Only
// intrinsics and <cstdint>: see cmake/isa_flags.cmake.
#pragma once

#include "kernels/simd.h"

#include <cstdint>

#include "kernels/qmatmul.h"

namespace nibble::kernels::ymm {
namespace {

constexpr int kPrefetchBytes = 16384;
constexpr int kTokens = 3;
constexpr int64_t kTokenChunk = 64;

inline int32_t load_i32(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

inline __m256i load256(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Calls f(k, codes) for the 8 chunks k of the half block at p (p already
// offset by 32 * half), codes holding 8 rows x 4 columns.
template <int Bits, class F>
inline void for_each_chunk(const uint8_t* p, F&& f) {
  if constexpr (Bits == 8) {
    for (int k = 0; k < 8; ++k) f(k, load256(p + 64 * k));
  } else if constexpr (Bits == 4) {
    const __m256i m = _mm256_set1_epi8(15);
    for (int v = 0; v < 4; ++v) {
      const __m256i raw = load256(p + 64 * v);
      f(v, _mm256_and_si256(raw, m));
      f(v + 4, _mm256_and_si256(_mm256_srli_epi16(raw, 4), m));
    }
  } else if constexpr (Bits == 2) {
    const __m256i m = _mm256_set1_epi8(3);
    for (int v = 0; v < 2; ++v) {
      const __m256i raw = load256(p + 64 * v);
      f(v, _mm256_and_si256(raw, m));
      f(v + 2, _mm256_and_si256(_mm256_srli_epi16(raw, 2), m));
      f(v + 4, _mm256_and_si256(_mm256_srli_epi16(raw, 4), m));
      f(v + 6, _mm256_and_si256(_mm256_srli_epi16(raw, 6), m));
    }
  } else {
    static_assert(Bits == 3);
    const __m256i m3 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(4);
    const __m256i high = load256(p + 128);
    for (int v = 0; v < 2; ++v) {
      const __m256i raw = load256(p + 64 * v);
      for (int m = 0; m < 4; ++m) {
        const int k = v + 2 * m;
        const __m256i h = k >= 2 ? _mm256_srli_epi16(high, k - 2) : _mm256_slli_epi16(high, 2 - k);
        const __m256i lo = m ? _mm256_srli_epi16(raw, 2 * m) : raw;
        f(k, _mm256_or_si256(_mm256_and_si256(lo, m3), _mm256_and_si256(h, m4)));
      }
    }
  }
}

// Y rows of halves [h0, h0 + H) of row block rb for tokens t0 .. t0 + T - 1.
template <template <int> class Dot, int Bits, int H, int T>
void tile(const QuantMatrixView& W, int64_t rb, int h0, const QuantActivationsView& X, int64_t t0,
          float* Y, int64_t ldy, bool prefetch) {
  using D = Dot<Bits>;
  constexpr int C = D::template kChains<H * T>;
  const uint8_t* p = W.data + rb * W.row_block_bytes;
  const int8_t* xq = X.q + t0 * X.k_pad;
  const float* xs = X.scale + t0 * X.blocks;
  const float* gs = X.group_sum + t0 * X.groups;
  const int64_t kq = X.k_pad, kb = X.blocks, kg = X.groups;
  __m256 yacc[H][T];
  for (int h = 0; h < H; ++h)
    for (int t = 0; t < T; ++t) yacc[h][t] = _mm256_setzero_ps();
  int64_t b = 0;
  for (int64_t g = 0; g < W.groups; ++g) {
    const uint8_t* header = p;
    if (prefetch) _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T1);
    p += kQHeaderBytes;
    __m256 facc[H][T];
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < T; ++t) facc[h][t] = _mm256_setzero_ps();
    const int32_t nb = W.group_blocks[g];
    for (int32_t i = 0; i < nb; ++i, ++b, p += 64 * Bits) {
      if (prefetch)
        for (int v = 0; v < Bits; ++v)
          _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes + 64 * v, _MM_HINT_T1);
      __m256i acc[H][T][C];
      for (int h = 0; h < H; ++h)
        for (int t = 0; t < T; ++t)
          for (int c = 0; c < C; ++c) acc[h][t][c] = _mm256_setzero_si256();
      const int8_t* xb = xq + b * kQColBlock;
      for (int h = 0; h < H; ++h) {
        for_each_chunk<Bits>(p + 32 * (h0 + h), [&](int k, __m256i w) {
          const typename D::Codes codes = D::codes(w);
          for (int t = 0; t < T; ++t) {
            __m256i& a = acc[h][t][k % C];
            a = D::accumulate(a, codes, _mm256_set1_epi32(load_i32(xb + t * kq + 4 * k)));
          }
        });
      }
      for (int h = 0; h < H; ++h)
        for (int t = 0; t < T; ++t) {
          __m256i sums = D::sums(acc[h][t][0]);
          for (int c = 1; c < C; ++c) sums = _mm256_add_epi32(sums, D::sums(acc[h][t][c]));
          facc[h][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(xs[t * kb + b]),
                                       facc[h][t]);
        }
    }
    for (int h = 0; h < H; ++h) {
      const int off = 16 * (h0 + h);
      const __m256 s =
          _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(header + off)));
      __m256 z = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(header + 32 + off)));
      if constexpr (D::kZeroShift != 0) z = _mm256_sub_ps(z, _mm256_set1_ps(D::kZeroShift));
      for (int t = 0; t < T; ++t)
        yacc[h][t] = _mm256_fmadd_ps(
            s, _mm256_fnmadd_ps(z, _mm256_set1_ps(gs[t * kg + g]), facc[h][t]), yacc[h][t]);
    }
  }
  for (int h = 0; h < H; ++h) {
    const int64_t r0 = rb * kQRowBlock + 8 * (h0 + h);
    const int64_t valid = W.rows - r0;
    if (valid <= 0) break;
    for (int t = 0; t < T; ++t) {
      float* y = Y + (t0 + t) * ldy + r0;
      if (valid >= 8) {
        _mm256_storeu_ps(y, yacc[h][t]);
      } else {
        alignas(32) float tmp[8];
        _mm256_store_ps(tmp, yacc[h][t]);
        for (int64_t j = 0; j < valid; ++j) y[j] = tmp[j];
      }
    }
  }
}

template <template <int> class Dot, int Bits, int T = kTokens>
void any_tile(int64_t count, const QuantMatrixView& W, int64_t rb, int half,
              const QuantActivationsView& X, int64_t t0, float* Y, int64_t ldy, bool prefetch) {
  if constexpr (T > 1)
    if (count < T) return any_tile<Dot, Bits, T - 1>(count, W, rb, half, X, t0, Y, ldy, prefetch);
  tile<Dot, Bits, 1, T>(W, rb, half, X, t0, Y, ldy, prefetch);
}

template <template <int> class Dot, int Bits>
void rows(const QuantMatrixView& W, int64_t rb0, int64_t rb1, const QuantActivationsView& X,
          float* Y, int64_t ldy) {
  if (X.n == 1) {
    for (int64_t rb = rb0; rb < rb1; ++rb) tile<Dot, Bits, 2, 1>(W, rb, 0, X, 0, Y, ldy, true);
    return;
  }
  for (int64_t c0 = 0; c0 < X.n; c0 += kTokenChunk) {
    const int64_t c1 = X.n - c0 < kTokenChunk ? X.n : c0 + kTokenChunk;
    for (int64_t rb = rb0; rb < rb1; ++rb)
      for (int half = 0; half < 2; ++half) {
        if (rb * kQRowBlock + 8 * half >= W.rows) break;
        for (int64_t t = c0; t < c1; t += kTokens)
          any_tile<Dot, Bits>(c1 - t, W, rb, half, X, t, Y, ldy, t == c0 && half == 0);
      }
  }
}

// The qmatmul_rows contract with dot-product step Dot.
template <template <int> class Dot>
void qmatmul_rows(const QuantMatrixView& W, int64_t rb0, int64_t rb1,
                  const QuantActivationsView& X, float* Y, int64_t ldy) {
  switch (W.bits) {
    case 2: return rows<Dot, 2>(W, rb0, rb1, X, Y, ldy);
    case 3: return rows<Dot, 3>(W, rb0, rb1, X, Y, ldy);
    case 4: return rows<Dot, 4>(W, rb0, rb1, X, Y, ldy);
    default: return rows<Dot, 8>(W, rb0, rb1, X, Y, ldy);
  }
}

// The quantize_blocks contract (AVX2 only, so every 256-bit build shares it).
void quantize_blocks(const float* x, int64_t blocks, int8_t* q, float* scale, int32_t* sum) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b = 0; b < blocks; ++b, x += kQColBlock, q += kQColBlock) {
    __m256 v[4];
    for (int j = 0; j < 4; ++j) v[j] = _mm256_loadu_ps(x + 8 * j);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    const float amax = _mm_cvtss_f32(m4);
    const __m256 inv = _mm256_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
    __m256i iv[4];
    for (int j = 0; j < 4; ++j)
      iv[j] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v[j], inv)), lo), hi);
    const __m256i s = _mm256_add_epi32(_mm256_add_epi32(iv[0], iv[1]), _mm256_add_epi32(iv[2], iv[3]));
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(iv[0], iv[1]),
                                              _mm256_packs_epi32(iv[2], iv[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_permutevar8x32_epi32(packed, order));
    sum[b] = _mm_cvtsi128_si32(s4);
    scale[b] = amax / 127.0f;
  }
}

}  // namespace
}  // namespace nibble::kernels::ymm
