// GGUF block products, AVX2 build (contract: kernels/gguf_matmul.h, layout:
// kernels/gguf_packed_layout.h). The same scheme as the AVX-512 build, on
// each 8-row half of a panel: a 32-byte vector holds 4 codes of each of 8
// rows; vpmaddubsw (unsigned codes x signed activations) gives int16 pair
// sums, which add up in int16 while they provably fit (4-bit codes: 8
// products of <= 2 * 15 * 127; 5-bit: 4; 6-bit: 2) before vpmaddwd widens
// them to int32. Q8_0 codes are made signed again and multiplied with the
// sign trick (|w| x sign(a, w)), which cannot saturate.
//
// Only intrinsics, <cstdint> and <cstring>: see cmake/isa_flags.cmake.
#include "kernels/simd.h"

#include <cstdint>
#include <cstring>

#include "kernels/gguf_matmul.h"
#include "kernels/gguf_packed_layout.h"

namespace nibble::kernels::avx2 {
namespace {

using namespace gguf_packed;

constexpr int kLegacyTokens = 4;
constexpr int kKTokens = 2;  // 16 ymm registers: keep the k-quant sums in registers

// Q4_K / Q5_K: the first half's pass prefetches each tile into L2 this far
// ahead, and the second half finds it there. (The AVX-512 build, one pass
// per panel, reads every type as fast or faster without software
// prefetches; Q4_0, Q8_0 and Q6_K here follow it, the k-quant halves were
// not re-measured.)
constexpr int kPrefetchBytes = 4096;

inline void prefetch(const uint8_t* p, int lines) {
  for (int i = 0; i < lines; ++i)
    _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchBytes + 64 * i), _MM_HINT_T1);
}

inline __m256i load(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

inline __m256i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

inline __m256 load_f16x8(const uint8_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// int16 pair sums of unsigned codes x signed activations.
inline __m256i mul_pairs(__m256i codes, const int8_t* a) {
  return _mm256_maddubs_epi16(codes, bcast4(a));
}

inline __m256i widen(__m256i pairs16) {
  return _mm256_madd_epi16(pairs16, _mm256_set1_epi16(1));
}

// 32 mask bits (bit i = byte i) -> 16 in the bytes whose bit is set.
inline __m256i bits_to_sixteens(uint32_t bits) {
  const __m256i spread = _mm256_shuffle_epi8(
      _mm256_set1_epi32(int32_t(bits)),
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3,
                       3, 3, 3, 3, 3, 3, 3));
  const __m256i select = _mm256_set1_epi64x(int64_t(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
  return _mm256_and_si256(set, _mm256_set1_epi8(16));
}

// Low / high nibbles of 32 chunk bytes.
inline void nibbles(const uint8_t* p, __m256i* lo, __m256i* hi) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  const __m256i raw = load(p);
  *lo = _mm256_and_si256(raw, m4);
  *hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), m4);
}

// ---------------------------------------------------------------- Q4_0, Q8_0

// out[8 t + r] for rows 8 h .. 8 h + 7 of one panel.
template <int T, bool kQ8>
void legacy_half(const uint8_t* panel, int64_t nb, int h, const GgufActivations& A, int64_t t0,
                 float* out) {
  constexpr int64_t kQs = kQ8 ? kQ8_0Qs : kQ4_0Qs;
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* w = panel + legacy_codes(b, kQs) + 32 * h;
    const int8_t* a[T];
    for (int t = 0; t < T; ++t) a[t] = A.q + (t0 + t) * A.cols + 32 * b;
    __m256i isum[T];
    if constexpr (kQ8) {
      for (int t = 0; t < T; ++t) isum[t] = _mm256_setzero_si256();
      const __m256i flip = _mm256_set1_epi8(int8_t(0x80));
      for (int g = 0; g < 8; ++g) {
        const __m256i ws = _mm256_xor_si256(load(w + 64 * g), flip);  // the signed code
        const __m256i mag = _mm256_abs_epi8(ws);
        for (int t = 0; t < T; ++t)
          isum[t] = _mm256_add_epi32(
              isum[t], widen(_mm256_maddubs_epi16(mag, _mm256_sign_epi8(bcast4(a[t] + 4 * g), ws))));
      }
    } else {
      __m256i p16[T];
      for (int t = 0; t < T; ++t) p16[t] = _mm256_setzero_si256();
      for (int k = 0; k < 4; ++k) {
        __m256i lo, hi;
        nibbles(w + 64 * k, &lo, &hi);
        for (int t = 0; t < T; ++t)
          p16[t] = _mm256_add_epi16(
              p16[t], _mm256_add_epi16(mul_pairs(lo, a[t] + 8 * k), mul_pairs(hi, a[t] + 8 * k + 4)));
      }
      for (int t = 0; t < T; ++t)
        isum[t] = _mm256_add_epi32(widen(p16[t]),
                                   _mm256_set1_epi32(-8 * int32_t(A.sum32[(t0 + t) * nb + b])));
    }
    const __m256 dw = load_f16x8(panel + legacy_scales(b, kQs) + 16 * h);
    for (int t = 0; t < T; ++t) {
      const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(A.d[(t0 + t) * nb + b]));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), scale, acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(out + 8 * t, acc[t]);
}

// ---------------------------------------------------------------- Q4_K, Q5_K

// 8 bytes, zero-extended to the 8 int32 lanes.
inline __m256i load_u8x8(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(int64_t(v)));
}

// Row lane r: the min codes of sub-blocks 2p and 2p + 1 as an int16 pair,
// from sm and mh bytes of the half's 8 rows (kernels/gguf_packed_layout.h).
inline __m256i k4_min_pair(const uint8_t* sm, const uint8_t* mh, int p) {
  const __m256i high = load_u8x8(mh + 16 * p);  // bits 0-3: m(2p) >> 2, 4-7: m(2p+1) >> 2
  const __m256i lo0 = load_u8x8(sm + 32 * p), lo1 = load_u8x8(sm + 32 * p + 16);
  // High bits to 2-5 and 18-21, low bits (bits 6, 7 of sm) to 0-1 and 16-17.
  const __m256i up = _mm256_and_si256(
      _mm256_or_si256(_mm256_slli_epi32(high, 2), _mm256_slli_epi32(high, 14)),
      _mm256_set1_epi32(0x003C003C));
  const __m256i low = _mm256_and_si256(
      _mm256_or_si256(_mm256_srli_epi32(lo0, 6), _mm256_slli_epi32(lo1, 10)),
      _mm256_set1_epi32(0x00030003));
  return _mm256_or_si256(up, low);
}

template <int T, bool kFifthBit>
void k4_half(const uint8_t* panel, int64_t nsb, int h, const GgufActivations& A, int64_t t0,
             float* out) {
  constexpr int64_t kTile = kFifthBit ? kQ5K_Tile : kQ4K_Tile;
  constexpr int64_t kSc = kFifthBit ? kQ5K_Sc : kQ4K_Sc, kMin = kFifthBit ? kQ5K_Min : kQ4K_Min;
  constexpr int64_t kD = kFifthBit ? kQ5K_D : kQ4K_D, kDmin = kFifthBit ? kQ5K_Dmin : kQ4K_Dmin;
  // Chunks (2 products each per int16 lane) summed in int16 before widening.
  constexpr int kChunksPerWiden = kFifthBit ? 2 : 4;
  const int64_t sums32_per_token = A.cols / 32;
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const uint8_t* tile = panel + sb * kTile;
    if (h == 0) prefetch(tile, int(kTile / 64));
    __m256i S[T];
    for (int t = 0; t < T; ++t) S[t] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const int8_t* a[T];
      for (int t = 0; t < T; ++t) a[t] = A.q + (t0 + t) * A.cols + 256 * sb + 32 * j;
      __m256i isum[T], p16[T];
      for (int t = 0; t < T; ++t) isum[t] = p16[t] = _mm256_setzero_si256();
      for (int k = 0; k < 4; ++k) {
        __m256i lo, hi;
        nibbles(tile + k4_chunks(j, kFifthBit) + 64 * k + 32 * h, &lo, &hi);
        if constexpr (kFifthBit) {
          uint32_t mlo, mhi;
          std::memcpy(&mlo, tile + q5_masks(j) + 16 * k + 4 * h, 4);
          std::memcpy(&mhi, tile + q5_masks(j) + 16 * k + 8 + 4 * h, 4);
          lo = _mm256_or_si256(lo, bits_to_sixteens(mlo));
          hi = _mm256_or_si256(hi, bits_to_sixteens(mhi));
        }
        for (int t = 0; t < T; ++t)
          p16[t] = _mm256_add_epi16(
              p16[t], _mm256_add_epi16(mul_pairs(lo, a[t] + 8 * k), mul_pairs(hi, a[t] + 8 * k + 4)));
        if ((k + 1) % kChunksPerWiden == 0)
          for (int t = 0; t < T; ++t) {
            isum[t] = _mm256_add_epi32(isum[t], widen(p16[t]));
            p16[t] = _mm256_setzero_si256();
          }
      }
      const __m256i sc = _mm256_and_si256(load_u8x8(tile + kSc + 16 * j + 8 * h), _mm256_set1_epi32(63));
      for (int t = 0; t < T; ++t) S[t] = _mm256_add_epi32(S[t], _mm256_mullo_epi32(isum[t], sc));
    }
    __m256i M[T];
    for (int t = 0; t < T; ++t) M[t] = _mm256_setzero_si256();
    for (int p = 0; p < 4; ++p) {
      const __m256i mins = k4_min_pair(tile + kSc + 8 * h, tile + kMin + 8 * h, p);
      for (int t = 0; t < T; ++t)
        M[t] = _mm256_add_epi32(
            M[t], _mm256_madd_epi16(mins, bcast4(A.sum32 + (t0 + t) * sums32_per_token + 8 * sb + 2 * p)));
    }
    const __m256 d = load_f16x8(tile + kD + 16 * h), dmin = load_f16x8(tile + kDmin + 16 * h);
    for (int t = 0; t < T; ++t) {
      const __m256 da = _mm256_set1_ps(A.d[(t0 + t) * nsb + sb]);
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(S[t]), _mm256_mul_ps(d, da), acc[t]);
      acc[t] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(M[t]), _mm256_mul_ps(dmin, da), acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(out + 8 * t, acc[t]);
}

// ---------------------------------------------------------------- Q6_K

template <int T>
void q6k_half(const uint8_t* panel, int64_t nsb, int h, const GgufActivations& A, int64_t t0,
              float* out) {
  const int64_t sums16_per_token = A.cols / 16;
  const __m256i m30 = _mm256_set1_epi8(0x30);
  __m256 acc[T];
  for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const uint8_t* tile = panel + sb * kQ6K_Tile;
    __m256i S[T], C[T];
    for (int t = 0; t < T; ++t) S[t] = C[t] = _mm256_setzero_si256();
    for (int G = 0; G < 8; ++G) {
      const int8_t* a[T];
      for (int t = 0; t < T; ++t) a[t] = A.q + (t0 + t) * A.cols + 256 * sb + 32 * G;
      const __m256i pair = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(tile + q6_scales(G) + 16 * h)));
      // Sub-block 2G uses vectors 0..3 (chunks 0, 1), sub-block 2G + 1 vectors 4..7.
      for (int s = 0; s < 2; ++s) {
        const __m256i high = load(tile + q6_high(G) + 64 * s + 32 * h);
        __m256i lo0, hi0, lo1, hi1;
        nibbles(tile + q6_low(G) + 64 * (2 * s) + 32 * h, &lo0, &hi0);
        nibbles(tile + q6_low(G) + 64 * (2 * s + 1) + 32 * h, &lo1, &hi1);
        lo0 = _mm256_or_si256(lo0, _mm256_and_si256(_mm256_slli_epi16(high, 4), m30));
        hi0 = _mm256_or_si256(hi0, _mm256_and_si256(_mm256_slli_epi16(high, 2), m30));
        lo1 = _mm256_or_si256(lo1, _mm256_and_si256(high, m30));
        hi1 = _mm256_or_si256(hi1, _mm256_and_si256(_mm256_srli_epi16(high, 2), m30));
        // Lanes hold (scale 2G, scale 2G + 1); pick this sub-block's as int32.
        const __m256i sc = s == 0 ? _mm256_srai_epi32(_mm256_slli_epi32(pair, 16), 16)
                                  : _mm256_srai_epi32(pair, 16);
        for (int t = 0; t < T; ++t) {
          const int8_t* as = a[t] + 16 * s;
          const __m256i first = _mm256_add_epi16(mul_pairs(lo0, as), mul_pairs(hi0, as + 4));
          const __m256i second = _mm256_add_epi16(mul_pairs(lo1, as + 8), mul_pairs(hi1, as + 12));
          const __m256i isum = _mm256_add_epi32(widen(first), widen(second));
          S[t] = _mm256_add_epi32(S[t], _mm256_mullo_epi32(isum, sc));
        }
      }
      for (int t = 0; t < T; ++t)
        C[t] = _mm256_add_epi32(
            C[t], _mm256_madd_epi16(pair, bcast4(A.sum16 + (t0 + t) * sums16_per_token + 16 * sb + 2 * G)));
    }
    const __m256 d = _mm256_loadu_ps(reinterpret_cast<const float*>(tile + kQ6K_D + 32 * h));
    for (int t = 0; t < T; ++t) {
      const __m256i total = _mm256_sub_epi32(S[t], _mm256_slli_epi32(C[t], 5));
      const __m256 scale = _mm256_mul_ps(d, _mm256_set1_ps(A.d[(t0 + t) * nsb + sb]));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total), scale, acc[t]);
    }
  }
  for (int t = 0; t < T; ++t) _mm256_storeu_ps(out + 8 * t, acc[t]);
}

// ---------------------------------------------------------------- driver

using HalfFn = void (*)(const uint8_t* panel, int64_t blocks, int h, const GgufActivations& A,
                        int64_t t0, float* out);

constexpr HalfFn kQ4_0[kLegacyTokens] = {legacy_half<1, false>, legacy_half<2, false>,
                                         legacy_half<3, false>, legacy_half<4, false>};
constexpr HalfFn kQ8_0[kLegacyTokens] = {legacy_half<1, true>, legacy_half<2, true>,
                                         legacy_half<3, true>, legacy_half<4, true>};
constexpr HalfFn kQ4_K[kKTokens] = {k4_half<1, false>, k4_half<2, false>};
constexpr HalfFn kQ5_K[kKTokens] = {k4_half<1, true>, k4_half<2, true>};
constexpr HalfFn kQ6_K[kKTokens] = {q6k_half<1>, q6k_half<2>};

inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}

}  // namespace

void gguf_quantize_activations(const float* X, int64_t t0, int64_t t1, int64_t cols,
                               int64_t block, int8_t* q, float* d, int16_t* sum16,
                               int16_t* sum32) {
  const __m256 lo = _mm256_set1_ps(-127.f), hi = _mm256_set1_ps(127.f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t t = t0; t < t1; ++t) {
    const float* x = X + t * cols;
    int8_t* qt = q + t * cols;
    int16_t* s16 = sum16 + t * (cols / 16);
    for (int64_t b = 0; b < cols / block; ++b) {
      const float* xb = x + b * block;
      __m256 amax = _mm256_setzero_ps();
      for (int64_t e = 0; e < block; e += 8)  // |x| first: a NaN |x| never wins
        amax = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(xb + e)), amax);
      const float m = hmax(amax);
      d[t * (cols / block) + b] = gguf_activation_scale(m, block);
      const __m256 id = _mm256_set1_ps(m > 0 ? 127.f / m : 0.f);
      for (int64_t e = 0; e < block; e += 16) {
        __m256 v0 = _mm256_mul_ps(_mm256_loadu_ps(xb + e), id);
        __m256 v1 = _mm256_mul_ps(_mm256_loadu_ps(xb + e + 8), id);
        v0 = _mm256_min_ps(_mm256_max_ps(v0, lo), hi);  // NaN -> -127
        v1 = _mm256_min_ps(_mm256_max_ps(v1, lo), hi);
        const __m256i q0 = _mm256_cvtps_epi32(v0), q1 = _mm256_cvtps_epi32(v1);
        // int32 -> int8 (in range): pack to int16 then int8, undoing the lane interleave.
        const __m256i q16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
        const __m128i q8 = _mm_packs_epi16(_mm256_castsi256_si128(q16),
                                           _mm256_extracti128_si256(q16, 1));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(qt + b * block + e), q8);
        s16[(b * block + e) / 16] = int16_t(hsum(_mm256_add_epi32(q0, q1)));
      }
    }
    for (int64_t s = 0; s < cols / 32; ++s)
      sum32[t * (cols / 32) + s] = int16_t(s16[2 * s] + s16[2 * s + 1]);
  }
}

void gguf_matmul_rows(const GgufPackedView& W, const GgufActivations& A, int64_t r0, int64_t r1,
                      float* Y, int64_t ldy) {
  const HalfFn* kernels = nullptr;
  int max_tokens = kKTokens;
  switch (W.type) {
    case GgufKernelType::Q4_0: kernels = kQ4_0; max_tokens = kLegacyTokens; break;
    case GgufKernelType::Q8_0: kernels = kQ8_0; max_tokens = kLegacyTokens; break;
    case GgufKernelType::Q4_K: kernels = kQ4_K; break;
    case GgufKernelType::Q5_K: kernels = kQ5_K; break;
    case GgufKernelType::Q6_K: kernels = kQ6_K; break;
  }
  const int64_t blocks = W.cols / A.block;
  alignas(32) float out[8 * kLegacyTokens];
  for (int64_t row0 = r0 / kRows * kRows; row0 < r1; row0 += kRows) {
    const uint8_t* panel = W.data + (row0 / kRows) * W.panel_bytes;
    for (int h = 0; h < 2; ++h) {
      const int64_t first = row0 + 8 * h;
      if (first >= r1) break;
      const int64_t valid = r1 - first < 8 ? r1 - first : 8;
      for (int64_t t0 = 0; t0 < A.n; t0 += max_tokens) {
        const int64_t tokens = A.n - t0 < max_tokens ? A.n - t0 : max_tokens;
        kernels[tokens - 1](panel, blocks, h, A, t0, out);
        for (int64_t t = 0; t < tokens; ++t)
          std::memcpy(Y + (t0 + t) * ldy + first, out + 8 * t, size_t(valid) * 4);
      }
    }
  }
}

}  // namespace nibble::kernels::avx2
