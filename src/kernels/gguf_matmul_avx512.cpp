// GGUF block products, AVX-512 VNNI build (contract: kernels/gguf_matmul.h,
// layout: kernels/gguf_packed_layout.h).
//
// A panel's 64-byte code vectors hold 4 codes of each of 16 rows, so one
// vpdpbusd with 4 activation bytes broadcast to every lane adds 4 products
// to each row's int32 lane: a 32-value block is 8 vpdpbusd and no
// horizontal sums. Codes are unsigned (Q8_0 stored + 128), activations
// signed; offsets come back exactly through the activations' integer sums
// (Q4_0: -8 sum a, Q8_0: -128 sum a, Q6_K: -32 sum a per 16, k-quant mins
// via vpdpwssd of min codes and sums per 32). Block scales are applied once
// per block (Q4_0, Q8_0) or per 256-value super-block, after vpmulld by the
// sub-block scale codes (k-quants).
//
// Tokens go through a panel in tiles of up to kTokens, each weight vector
// unpacked once per tile and reused from registers; all tiles pass over a
// panel while it sits in L1/L2, so weights come from memory once. Every
// panel is laid out to be read front to back as one stream, which the
// hardware prefetchers follow best alone: software prefetches cost 10-20%
// of decode speed there (measured on Q4_K, Q4_0 and Q8_0 panels).
//
// Only intrinsics, <cstdint> and <cstring>: see cmake/isa_flags.cmake.
#include "kernels/simd.h"

#include <cstdint>
#include <cstring>

#include "kernels/gguf_matmul.h"
#include "kernels/gguf_packed_layout.h"

namespace nibble::kernels::avx512 {
namespace {

using namespace gguf_packed;

// Tokens per tile: 8 code vectors + 8 accumulators (+ 8 integer sums for
// the k-quants) stay in the 32 registers.
constexpr int kLegacyTokens = 8;
constexpr int kKTokens = 8;

inline __m512i load(const uint8_t* p) { return _mm512_loadu_si512(p); }

inline __m512i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

inline __m512 load_f16x16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// The 8 code vectors of a 32-value group stored as four 4-bit chunks.
inline void unpack_nibbles(const uint8_t* group, __m512i v[8]) {
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  for (int k = 0; k < 4; ++k) {
    const __m512i raw = load(group + 64 * k);
    v[2 * k] = _mm512_and_si512(raw, m4);
    v[2 * k + 1] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
  }
}

// init + sum over `count` vectors of codes . a[4g .. 4g + 3], per row lane;
// two chains to halve the vpdpbusd latency chain.
template <int kCount>
inline __m512i dot(const __m512i* v, const int8_t* a, __m512i init) {
  __m512i s0 = init, s1 = _mm512_setzero_si512();
  for (int g = 0; g < kCount; g += 2) {
    s0 = _mm512_dpbusd_epi32(s0, v[g], bcast4(a + 4 * g));
    s1 = _mm512_dpbusd_epi32(s1, v[g + 1], bcast4(a + 4 * g + 4));
  }
  return _mm512_add_epi32(s0, s1);
}

// ---------------------------------------------------------------- Q4_0, Q8_0

// out[16 t + r] for tokens t0 .. t0 + T - 1 of one panel.
template <int T, bool kQ8>
void legacy_panel(const uint8_t* panel, int64_t nb, const GgufActivations& A, int64_t t0,
                  float* out) {
  constexpr int64_t kQs = kQ8 ? kQ8_0Qs : kQ4_0Qs;
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* w = panel + legacy_codes(b, kQs);
    __m512i v[8];
    if constexpr (kQ8) {
      for (int g = 0; g < 8; ++g) v[g] = load(w + 64 * g);
    } else {
      unpack_nibbles(w, v);
    }
    const __m512 dw = load_f16x16(panel + legacy_scales(b, kQs));
    for (int t = 0; t < T; ++t) {
      const int64_t tok = t0 + t;
      const int8_t* a = A.q + tok * A.cols + 32 * b;
      const int32_t offset = (kQ8 ? -128 : -8) * int32_t(A.sum32[tok * nb + b]);
      const __m512i s = dot<8>(v, a, _mm512_set1_epi32(offset));
      const __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(A.d[tok * nb + b]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), scale, acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

// ---------------------------------------------------------------- Q4_K, Q5_K

// 16 bytes, zero-extended to the 16 int32 lanes.
inline __m512i load_u8x16(const uint8_t* p) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Row lane r: the min codes of sub-blocks 2p and 2p + 1 as an int16 pair,
// from the tile's sm and mh bytes (kernels/gguf_packed_layout.h).
inline __m512i k4_min_pair(const uint8_t* sm, const uint8_t* mh, int p) {
  const __m512i high = load_u8x16(mh + 16 * p);  // bits 0-3: m(2p) >> 2, 4-7: m(2p+1) >> 2
  const __m512i lo0 = load_u8x16(sm + 32 * p), lo1 = load_u8x16(sm + 32 * p + 16);
  // 0xA8: (a | b) & c. High bits to 2-5 and 18-21, low bits (bits 6, 7 of sm) to 0-1 and 16-17.
  const __m512i up = _mm512_ternarylogic_epi32(_mm512_slli_epi32(high, 2), _mm512_slli_epi32(high, 14),
                                               _mm512_set1_epi32(0x003C003C), 0xA8);
  const __m512i low = _mm512_ternarylogic_epi32(_mm512_srli_epi32(lo0, 6), _mm512_slli_epi32(lo1, 10),
                                                _mm512_set1_epi32(0x00030003), 0xA8);
  return _mm512_or_si512(up, low);
}

template <int T, bool kFifthBit>
void k4_panel(const uint8_t* panel, int64_t nsb, const GgufActivations& A, int64_t t0,
              float* out) {
  constexpr int64_t kTile = kFifthBit ? kQ5K_Tile : kQ4K_Tile;
  constexpr int64_t kSc = kFifthBit ? kQ5K_Sc : kQ4K_Sc, kMin = kFifthBit ? kQ5K_Min : kQ4K_Min;
  constexpr int64_t kD = kFifthBit ? kQ5K_D : kQ4K_D, kDmin = kFifthBit ? kQ5K_Dmin : kQ4K_Dmin;
  const int64_t sums32_per_token = A.cols / 32;
  const __m512i sixteen = _mm512_set1_epi8(16);
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const uint8_t* tile = panel + sb * kTile;
    __m512i S[T];
    for (int t = 0; t < T; ++t) S[t] = _mm512_setzero_si512();
    for (int j = 0; j < 8; ++j) {
      __m512i v[8];
      unpack_nibbles(tile + k4_chunks(j, kFifthBit), v);
      if constexpr (kFifthBit) {
        const uint8_t* masks = tile + q5_masks(j);
        for (int k = 0; k < 4; ++k) {
          uint64_t lo, hi;
          std::memcpy(&lo, masks + 16 * k, 8);
          std::memcpy(&hi, masks + 16 * k + 8, 8);
          v[2 * k] = _mm512_mask_add_epi8(v[2 * k], _cvtu64_mask64(lo), v[2 * k], sixteen);
          v[2 * k + 1] = _mm512_mask_add_epi8(v[2 * k + 1], _cvtu64_mask64(hi), v[2 * k + 1], sixteen);
        }
      }
      const __m512i sc = _mm512_and_si512(load_u8x16(tile + kSc + 16 * j), _mm512_set1_epi32(63));
      for (int t = 0; t < T; ++t) {
        const int8_t* a = A.q + (t0 + t) * A.cols + 256 * sb + 32 * j;
        S[t] = _mm512_add_epi32(S[t], _mm512_mullo_epi32(dot<8>(v, a, _mm512_setzero_si512()), sc));
      }
    }
    __m512i M[T];
    for (int t = 0; t < T; ++t) M[t] = _mm512_setzero_si512();
    for (int p = 0; p < 4; ++p) {
      const __m512i mins = k4_min_pair(tile + kSc, tile + kMin, p);
      for (int t = 0; t < T; ++t)
        M[t] = _mm512_dpwssd_epi32(
            M[t], mins, bcast4(A.sum32 + (t0 + t) * sums32_per_token + 8 * sb + 2 * p));
    }
    const __m512 d = load_f16x16(tile + kD), dmin = load_f16x16(tile + kDmin);
    for (int t = 0; t < T; ++t) {
      const __m512 da = _mm512_set1_ps(A.d[(t0 + t) * nsb + sb]);
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(S[t]), _mm512_mul_ps(d, da), acc[t]);
      acc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(M[t]), _mm512_mul_ps(dmin, da), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

// ---------------------------------------------------------------- Q6_K

template <int T>
void q6k_panel(const uint8_t* panel, int64_t nsb, const GgufActivations& A, int64_t t0,
               float* out) {
  const int64_t sums16_per_token = A.cols / 16;
  const __m512i m30 = _mm512_set1_epi8(0x30);
  __m512 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const uint8_t* tile = panel + sb * kQ6K_Tile;
    __m512i S[T], C[T];
    for (int t = 0; t < T; ++t) S[t] = C[t] = _mm512_setzero_si512();
    for (int G = 0; G < 8; ++G) {
      __m512i v[8];
      unpack_nibbles(tile + q6_low(G), v);
      for (int h = 0; h < 2; ++h) {
        // Bits 2f, 2f+1 of each byte to bits 4, 5 of vector 4h + f (0xF8: a | (b & c)).
        const __m512i high = load(tile + q6_high(G) + 64 * h);
        v[4 * h + 0] = _mm512_ternarylogic_epi32(v[4 * h + 0], _mm512_slli_epi16(high, 4), m30, 0xF8);
        v[4 * h + 1] = _mm512_ternarylogic_epi32(v[4 * h + 1], _mm512_slli_epi16(high, 2), m30, 0xF8);
        v[4 * h + 2] = _mm512_ternarylogic_epi32(v[4 * h + 2], high, m30, 0xF8);
        v[4 * h + 3] = _mm512_ternarylogic_epi32(v[4 * h + 3], _mm512_srli_epi16(high, 2), m30, 0xF8);
      }
      // Lanes of (scale 2G, scale 2G + 1) as int16 pairs, and each alone as int32.
      const __m512i pair = _mm512_cvtepi8_epi16(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tile + q6_scales(G))));
      const __m512i sc_a = _mm512_srai_epi32(_mm512_slli_epi32(pair, 16), 16);
      const __m512i sc_b = _mm512_srai_epi32(pair, 16);
      for (int t = 0; t < T; ++t) {
        const int8_t* a = A.q + (t0 + t) * A.cols + 256 * sb + 32 * G;
        const __m512i zero = _mm512_setzero_si512();
        const __m512i s = _mm512_add_epi32(_mm512_mullo_epi32(dot<4>(v, a, zero), sc_a),
                                           _mm512_mullo_epi32(dot<4>(v + 4, a + 16, zero), sc_b));
        S[t] = _mm512_add_epi32(S[t], s);
        C[t] = _mm512_dpwssd_epi32(
            C[t], pair, bcast4(A.sum16 + (t0 + t) * sums16_per_token + 16 * sb + 2 * G));
      }
    }
    const __m512 d = _mm512_loadu_ps(reinterpret_cast<const float*>(tile + kQ6K_D));
    for (int t = 0; t < T; ++t) {
      const __m512i total = _mm512_sub_epi32(S[t], _mm512_slli_epi32(C[t], 5));  // q - 32
      const __m512 scale = _mm512_mul_ps(d, _mm512_set1_ps(A.d[(t0 + t) * nsb + sb]));
      acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(total), scale, acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm512_storeu_ps(out + 16 * t, acc[t]);
}

// ---------------------------------------------------------------- driver

using PanelFn = void (*)(const uint8_t* panel, int64_t blocks, const GgufActivations& A,
                         int64_t t0, float* out);

// Kernels by token-tile size (index T - 1).
constexpr PanelFn kQ4_0[kLegacyTokens] = {
    legacy_panel<1, false>, legacy_panel<2, false>, legacy_panel<3, false>, legacy_panel<4, false>,
    legacy_panel<5, false>, legacy_panel<6, false>, legacy_panel<7, false>, legacy_panel<8, false>};
constexpr PanelFn kQ8_0[kLegacyTokens] = {
    legacy_panel<1, true>, legacy_panel<2, true>, legacy_panel<3, true>, legacy_panel<4, true>,
    legacy_panel<5, true>, legacy_panel<6, true>, legacy_panel<7, true>, legacy_panel<8, true>};
constexpr PanelFn kQ4_K[kKTokens] = {k4_panel<1, false>, k4_panel<2, false>, k4_panel<3, false>,
                                     k4_panel<4, false>, k4_panel<5, false>, k4_panel<6, false>,
                                     k4_panel<7, false>, k4_panel<8, false>};
constexpr PanelFn kQ5_K[kKTokens] = {k4_panel<1, true>, k4_panel<2, true>, k4_panel<3, true>,
                                     k4_panel<4, true>, k4_panel<5, true>, k4_panel<6, true>,
                                     k4_panel<7, true>, k4_panel<8, true>};
constexpr PanelFn kQ6_K[kKTokens] = {q6k_panel<1>, q6k_panel<2>, q6k_panel<3>, q6k_panel<4>,
                                     q6k_panel<5>, q6k_panel<6>, q6k_panel<7>, q6k_panel<8>};

}  // namespace

void gguf_quantize_activations(const float* X, int64_t t0, int64_t t1, int64_t cols,
                               int64_t block, int8_t* q, float* d, int16_t* sum16,
                               int16_t* sum32) {
  const __m512 lo = _mm512_set1_ps(-127.f), hi = _mm512_set1_ps(127.f);
  const __m512 sign = _mm512_set1_ps(-0.0f);
  for (int64_t t = t0; t < t1; ++t) {
    const float* x = X + t * cols;
    int8_t* qt = q + t * cols;
    int16_t* s16 = sum16 + t * (cols / 16);
    for (int64_t b = 0; b < cols / block; ++b) {
      const float* xb = x + b * block;
      __m512 amax = _mm512_setzero_ps();
      for (int64_t e = 0; e < block; e += 16)  // |x| first: a NaN |x| never wins
        amax = _mm512_max_ps(_mm512_andnot_ps(sign, _mm512_loadu_ps(xb + e)), amax);
      const float m = _mm512_reduce_max_ps(amax);
      d[t * (cols / block) + b] = gguf_activation_scale(m, block);
      const __m512 id = _mm512_set1_ps(m > 0 ? 127.f / m : 0.f);
      for (int64_t e = 0; e < block; e += 16) {
        __m512 v = _mm512_mul_ps(_mm512_loadu_ps(xb + e), id);
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);  // NaN -> -127
        const __m512i qi = _mm512_cvtps_epi32(v);      // round half to even
        _mm_storeu_si128(reinterpret_cast<__m128i*>(qt + b * block + e), _mm512_cvtepi32_epi8(qi));
        s16[(b * block + e) / 16] = int16_t(_mm512_reduce_add_epi32(qi));
      }
    }
    for (int64_t s = 0; s < cols / 32; ++s)
      sum32[t * (cols / 32) + s] = int16_t(s16[2 * s] + s16[2 * s + 1]);
  }
}

void gguf_matmul_rows(const GgufPackedView& W, const GgufActivations& A, int64_t r0, int64_t r1,
                      float* Y, int64_t ldy) {
  const PanelFn* kernels = nullptr;
  int max_tokens = kKTokens;
  switch (W.type) {
    case GgufKernelType::Q4_0: kernels = kQ4_0; max_tokens = kLegacyTokens; break;
    case GgufKernelType::Q8_0: kernels = kQ8_0; max_tokens = kLegacyTokens; break;
    case GgufKernelType::Q4_K: kernels = kQ4_K; break;
    case GgufKernelType::Q5_K: kernels = kQ5_K; break;
    case GgufKernelType::Q6_K: kernels = kQ6_K; break;
  }
  const int64_t blocks = W.cols / A.block;
  alignas(64) float out[16 * (kLegacyTokens > kKTokens ? kLegacyTokens : kKTokens)];
  for (int64_t row0 = r0 / kRows * kRows; row0 < r1; row0 += kRows) {
    const uint8_t* panel = W.data + (row0 / kRows) * W.panel_bytes;
    const int64_t valid = r1 - row0 < kRows ? r1 - row0 : kRows;
    const __mmask16 mask = __mmask16((1u << valid) - 1);
    for (int64_t t0 = 0; t0 < A.n; t0 += max_tokens) {
      const int64_t tokens = A.n - t0 < max_tokens ? A.n - t0 : max_tokens;
      kernels[tokens - 1](panel, blocks, A, t0, out);
      for (int64_t t = 0; t < tokens; ++t)
        _mm512_mask_storeu_ps(Y + (t0 + t) * ldy + row0, mask, _mm512_load_ps(out + 16 * t));
    }
  }
}

}  // namespace nibble::kernels::avx512
