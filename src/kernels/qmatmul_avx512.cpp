// Integer-weight products, AVX-512 VNNI build (layout and contract in
// qmatmul.h).
//
// One zmm of codes is 16 rows x 4 columns, so vpdpbusd against the 4 int8
// activations of those columns broadcast to every lane accumulates 16 row
// dot products at once, with no horizontal sums. Per 32-column block the
// int32 sums become f32 (times the block's activation scale); per group the
// scale and zero point apply: y += s * (acc - z * XS[g]).
//
// Decode (n == 1) streams each row block once, relying on the hardware
// prefetchers: a software prefetch 16 KB ahead made 1-thread decode of a
// 1.1B w4 model 1.5x slower (28 vs 43 tok/s). Prefill tiles one
// row block by up to kTokens tokens: every unpacked code vector feeds
// kTokens vpdpbusd, with 3 * kTokens accumulators in registers. Tokens go in
// chunks of kTokenChunk so a chunk's activations stay in L2 while all row
// blocks pass over them; each row block is re-read from L1/L2 per tile.
//
// Only intrinsics and <cstdint>: see cmake/isa_flags.cmake.
#include "kernels/simd.h"

#include <cstdint>

#include "kernels/qmatmul.h"

namespace nibble::kernels::avx512 {
namespace {

constexpr int kTokens = 8;
constexpr int64_t kTokenChunk = 64;
// Independent vpdpbusd accumulators per token: the 8 chunks of a block
// would otherwise form one dependency chain (5-cycle latency each), which
// caps decode well below memory bandwidth; with 4+ tokens the tokens' own
// chains already overlap.
template <int T>
constexpr int kChains = T == 1 ? 4 : T == 2 ? 2 : 1;

inline int32_t load_i32(const int8_t* p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

inline __m512i load512(const uint8_t* p) { return _mm512_loadu_si512(p); }

// Calls f(k, codes) for the 8 chunks k of 4 columns of the block at p,
// codes holding 16 rows x 4 columns as unsigned bytes.
template <int Bits, class F>
inline void for_each_chunk(const uint8_t* p, F&& f) {
  if constexpr (Bits == 8) {
    for (int k = 0; k < 8; ++k) f(k, load512(p + 64 * k));
  } else if constexpr (Bits == 4) {
    const __m512i m = _mm512_set1_epi8(15);
    for (int v = 0; v < 4; ++v) {
      const __m512i raw = load512(p + 64 * v);
      f(v, _mm512_and_si512(raw, m));
      f(v + 4, _mm512_and_si512(_mm512_srli_epi16(raw, 4), m));
    }
  } else if constexpr (Bits == 2) {
    const __m512i m = _mm512_set1_epi8(3);
    for (int v = 0; v < 2; ++v) {
      const __m512i raw = load512(p + 64 * v);
      f(v, _mm512_and_si512(raw, m));
      f(v + 2, _mm512_and_si512(_mm512_srli_epi16(raw, 2), m));
      f(v + 4, _mm512_and_si512(_mm512_srli_epi16(raw, 4), m));
      f(v + 6, _mm512_and_si512(_mm512_srli_epi16(raw, 6), m));
    }
  } else {
    static_assert(Bits == 3);
    const __m512i m3 = _mm512_set1_epi8(3), m4 = _mm512_set1_epi8(4);
    const __m512i high = load512(p + 128);
    // Bit 2 of chunk k sits at bit k of the third vector; move it to bit 2.
    const __m512i h[8] = {
        _mm512_and_si512(_mm512_slli_epi16(high, 2), m4), _mm512_and_si512(_mm512_slli_epi16(high, 1), m4),
        _mm512_and_si512(high, m4),                      _mm512_and_si512(_mm512_srli_epi16(high, 1), m4),
        _mm512_and_si512(_mm512_srli_epi16(high, 2), m4), _mm512_and_si512(_mm512_srli_epi16(high, 3), m4),
        _mm512_and_si512(_mm512_srli_epi16(high, 4), m4), _mm512_and_si512(_mm512_srli_epi16(high, 5), m4)};
    for (int v = 0; v < 2; ++v) {
      const __m512i raw = load512(p + 64 * v);
      // (a & m3) | h: vpternlogd 0xEA.
      f(v, _mm512_ternarylogic_epi32(raw, m3, h[v], 0xEA));
      f(v + 2, _mm512_ternarylogic_epi32(_mm512_srli_epi16(raw, 2), m3, h[v + 2], 0xEA));
      f(v + 4, _mm512_ternarylogic_epi32(_mm512_srli_epi16(raw, 4), m3, h[v + 4], 0xEA));
      f(v + 6, _mm512_ternarylogic_epi32(_mm512_srli_epi16(raw, 6), m3, h[v + 6], 0xEA));
    }
  }
}

// Y rows of row block rb for tokens t0 .. t0 + T - 1.
template <int Bits, int T>
void tile(const QuantMatrixView& W, int64_t rb, const QuantActivationsView& X, int64_t t0,
          float* Y, int64_t ldy) {
  const uint8_t* p = W.data + rb * W.row_block_bytes;
  const int8_t* xq = X.q + t0 * X.k_pad;
  const float* xs = X.scale + t0 * X.blocks;
  const float* gs = X.group_sum + t0 * X.groups;
  const int64_t kq = X.k_pad, kb = X.blocks, kg = X.groups;
  __m512 yacc[T];
  for (int t = 0; t < T; ++t) yacc[t] = _mm512_setzero_ps();
  int64_t b = 0;
  for (int64_t g = 0; g < W.groups; ++g) {
    const uint8_t* header = p;
    p += kQHeaderBytes;
    __m512 facc[T];
    for (int t = 0; t < T; ++t) facc[t] = _mm512_setzero_ps();
    const int32_t nb = W.group_blocks[g];
    for (int32_t i = 0; i < nb; ++i, ++b, p += 64 * Bits) {
      __m512i iacc[T][kChains<T>];
      for (int t = 0; t < T; ++t)
        for (int c = 0; c < kChains<T>; ++c) iacc[t][c] = _mm512_setzero_si512();
      const int8_t* xb = xq + b * kQColBlock;
      for_each_chunk<Bits>(p, [&](int k, __m512i w) {
        for (int t = 0; t < T; ++t) {
          __m512i& acc = iacc[t][k % kChains<T>];
          acc = _mm512_dpbusd_epi32(acc, w, _mm512_set1_epi32(load_i32(xb + t * kq + 4 * k)));
        }
      });
      for (int t = 0; t < T; ++t) {
        __m512i sum = iacc[t][0];
        for (int c = 1; c < kChains<T>; ++c) sum = _mm512_add_epi32(sum, iacc[t][c]);
        facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_set1_ps(xs[t * kb + b]), facc[t]);
      }
    }
    const __m512 s = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(header)));
    const __m512 z =
        _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(header + 32)));
    for (int t = 0; t < T; ++t)
      yacc[t] = _mm512_fmadd_ps(s, _mm512_fnmadd_ps(z, _mm512_set1_ps(gs[t * kg + g]), facc[t]),
                                yacc[t]);
  }
  const int64_t r0 = rb * kQRowBlock;
  const int64_t valid = W.rows - r0 < kQRowBlock ? W.rows - r0 : kQRowBlock;
  const __mmask16 m = __mmask16((1u << valid) - 1);
  for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(Y + (t0 + t) * ldy + r0, m, yacc[t]);
}

template <int Bits, int T = kTokens>
void any_tile(int64_t count, const QuantMatrixView& W, int64_t rb, const QuantActivationsView& X,
              int64_t t0, float* Y, int64_t ldy) {
  if constexpr (T > 1)
    if (count < T) return any_tile<Bits, T - 1>(count, W, rb, X, t0, Y, ldy);
  tile<Bits, T>(W, rb, X, t0, Y, ldy);
}

template <int Bits>
void rows(const QuantMatrixView& W, int64_t rb0, int64_t rb1, const QuantActivationsView& X,
          float* Y, int64_t ldy) {
  if (X.n == 1) {
    for (int64_t rb = rb0; rb < rb1; ++rb) tile<Bits, 1>(W, rb, X, 0, Y, ldy);
    return;
  }
  for (int64_t c0 = 0; c0 < X.n; c0 += kTokenChunk) {
    const int64_t c1 = X.n - c0 < kTokenChunk ? X.n : c0 + kTokenChunk;
    for (int64_t rb = rb0; rb < rb1; ++rb)
      for (int64_t t = c0; t < c1; t += kTokens)
        any_tile<Bits>(c1 - t, W, rb, X, t, Y, ldy);
  }
}

}  // namespace

void qmatmul_rows(const QuantMatrixView& W, int64_t rb0, int64_t rb1,
                  const QuantActivationsView& X, float* Y, int64_t ldy) {
  switch (W.bits) {
    case 2: return rows<2>(W, rb0, rb1, X, Y, ldy);
    case 3: return rows<3>(W, rb0, rb1, X, Y, ldy);
    case 4: return rows<4>(W, rb0, rb1, X, Y, ldy);
    default: return rows<8>(W, rb0, rb1, X, Y, ldy);
  }
}

void quantize_blocks(const float* x, int64_t blocks, int8_t* q, float* scale, int32_t* sum) {
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  for (int64_t b = 0; b < blocks; ++b, x += kQColBlock, q += kQColBlock) {
    const __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    const __m512 inv = _mm512_set1_ps(amax > 0 ? 127.0f / amax : 0.0f);
    const __m512i i0 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x0, inv)), lo), hi);
    const __m512i i1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x1, inv)), lo), hi);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtepi32_epi8(i0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtepi32_epi8(i1));
    sum[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
    scale[b] = amax / 127.0f;
  }
}

}  // namespace nibble::kernels::avx512
