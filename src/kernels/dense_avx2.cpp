// Dense f32 / bf16 products, AVX2 + FMA build (see dense.h for the contract).
//
// The same plan as dense_avx512.cpp, whose comments explain it, at half
// the width: decode streams one weight row at a time with four accumulators
// and a software prefetch; n > 1 keeps a tile of kRows x kTokens
// accumulators (12 of the 16 ymm registers). AVX2 has no masked 16-bit
// load, so the last cols % 8 columns are copied into zero-padded scratch.
//
// Only intrinsics and <cstdint>: see cmake/isa_flags.cmake.
#include "kernels/simd.h"

#include <cstdint>

#include "kernels/dense.h"

namespace nibble::kernels::avx2 {
namespace {

constexpr int kRows = 2;    // weight rows per prefill tile
constexpr int kTokens = 6;  // tokens per prefill tile

inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}

// The first `count` (< 8) values of p, then zeros, as 8 lanes.
template <class T>
inline __m256 load8_tail(const T* p, int64_t count) {
  T buf[8] = {};
  for (int64_t i = 0; i < count; ++i) buf[i] = p[i];
  return load8(buf);
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// How far ahead of the loads weights are requested into L2 (see
// dense_avx512.cpp).
constexpr int kPrefetchBytes = 16384;

// Requests the lines kPrefetchBytes past w[0 .. 32).

template <class Wt>
inline void prefetch_ahead(const Wt* w) {
  const char* p = reinterpret_cast<const char*>(w) + kPrefetchBytes;
  for (int i = 0; i < 32 * int(sizeof(Wt)); i += 64) _mm_prefetch(p + i, _MM_HINT_T1);
}

// sum_c w[c] * x[c], one weight stream.
template <class Wt>
float dot_row(const Wt* w, const float* x, int64_t cols) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t c = 0;
  for (; c + 32 <= cols; c += 32) {
    prefetch_ahead(w + c);
    a0 = _mm256_fmadd_ps(load8(w + c), load8(x + c), a0);
    a1 = _mm256_fmadd_ps(load8(w + c + 8), load8(x + c + 8), a1);
    a2 = _mm256_fmadd_ps(load8(w + c + 16), load8(x + c + 16), a2);
    a3 = _mm256_fmadd_ps(load8(w + c + 24), load8(x + c + 24), a3);
  }
  for (; c + 8 <= cols; c += 8) a0 = _mm256_fmadd_ps(load8(w + c), load8(x + c), a0);
  if (c < cols) a1 = _mm256_fmadd_ps(load8_tail(w + c, cols - c), load8_tail(x + c, cols - c), a1);
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

// Y[t * ldy + r] = sum_c W[r * cols + c] * X[t * cols + c]  for r < R, t < T.
// `prefetch` on the first token block over these rows; later blocks find
// them in cache.
template <int R, int T, class Wt>
void tile(const Wt* W, int64_t cols, const float* X, float* Y, int64_t ldy, bool prefetch) {
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  int64_t c = 0;
  for (; c + 8 <= cols; c += 8) {
    if (prefetch)
      for (int r = 0; r < R; ++r)
        _mm_prefetch(reinterpret_cast<const char*>(W + r * cols + c) + kPrefetchBytes, _MM_HINT_T1);
    __m256 w[R];
    for (int r = 0; r < R; ++r) w[r] = load8(W + r * cols + c);
    for (int t = 0; t < T; ++t) {
      const __m256 x = load8(X + t * cols + c);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(w[r], x, acc[r][t]);
    }
  }
  if (c < cols) {
    __m256 w[R];
    for (int r = 0; r < R; ++r) w[r] = load8_tail(W + r * cols + c, cols - c);
    for (int t = 0; t < T; ++t) {
      const __m256 x = load8_tail(X + t * cols + c, cols - c);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(w[r], x, acc[r][t]);
    }
  }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) Y[t * ldy + r] = hsum(acc[r][t]);
}

// tile<r, t> for run-time r <= R, t <= T (the ragged edges).
template <int R, int T, class Wt>
void any_tile(int r, int t, const Wt* W, int64_t cols, const float* X, float* Y, int64_t ldy,
              bool prefetch) {
  if constexpr (R > 1)
    if (r < R) return any_tile<R - 1, T>(r, t, W, cols, X, Y, ldy, prefetch);
  if constexpr (T > 1)
    if (t < T) return any_tile<R, T - 1>(r, t, W, cols, X, Y, ldy, prefetch);
  tile<R, T>(W, cols, X, Y, ldy, prefetch);
}

template <class Wt>
void matmul_rows(const Wt* W, int64_t r0, int64_t r1, int64_t cols, const float* X, int64_t n,
                 float* Y, int64_t ldy) {
  if (n == 1) {
    for (int64_t r = r0; r < r1; ++r) Y[r] = dot_row(W + r * cols, X, cols);
    return;
  }
  for (int64_t r = r0; r < r1; r += kRows) {
    const int rr = r1 - r < kRows ? int(r1 - r) : kRows;
    for (int64_t t = 0; t < n; t += kTokens) {
      const int tt = n - t < kTokens ? int(n - t) : kTokens;
      any_tile<kRows, kTokens>(rr, tt, W + r * cols, cols, X + t * cols, Y + t * ldy + r, ldy,
                               t == 0);
    }
  }
}

}  // namespace

void matmul_f32_rows(const float* W, int64_t r0, int64_t r1, int64_t cols, const float* X,
                     int64_t n, float* Y, int64_t ldy) {
  matmul_rows(W, r0, r1, cols, X, n, Y, ldy);
}

void matmul_bf16_rows(const uint16_t* W, int64_t r0, int64_t r1, int64_t cols, const float* X,
                      int64_t n, float* Y, int64_t ldy) {
  matmul_rows(W, r0, r1, cols, X, n, Y, ldy);
}

}  // namespace nibble::kernels::avx2
