// Dense f32 / bf16 products, AVX-512 build (see dense.h for the contract).
//
// Decode (n == 1) is bound by memory bandwidth: each weight row is read
// once, front to back, as one stream with four accumulators. (Walking
// several rows side by side saves nothing, x stays in L1/L2 either way, and
// measurably upsets the hardware prefetchers.) A software prefetch into L2
// runs kPrefetchBytes ahead of the stream.
//
// n > 1 (prefill, small batches) uses tiles of kRows weight rows x kTokens
// tokens with kRows * kTokens accumulators in registers, so each widened
// weight vector feeds up to kTokens FMAs. All token blocks pass over a tile's
// rows while they sit in L1/L2, so W comes from memory once; the first pass
// prefetches like decode, which keeps n = 2..4 as cheap as n = 1.
//
// bf16 -> f32 is exact: zero-extend each 16-bit value to 32 bits and shift
// it into the high half. Column tails use masked loads (zeros add nothing).
//
// Only intrinsics and <cstdint>: see cmake/isa_flags.cmake.
#include "kernels/simd.h"

#include <cstdint>

#include "kernels/dense.h"

namespace nibble::kernels::avx512 {
namespace {

constexpr int kRows = 4;    // weight rows per prefill tile
constexpr int kTokens = 6;  // tokens per prefill tile (4 x 6 = 24 of 32 zmm)

inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load16(const uint16_t* p) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}
inline __m512 load16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load16(const uint16_t* p, __mmask16 m) {
  const __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

inline __mmask16 tail_mask(int64_t count) { return __mmask16((1u << count) - 1); }

// How far ahead of the loads weights are requested into L2. The hardware
// prefetchers alone fall well short of DRAM bandwidth once x no longer fits
// in L1 beside the weight stream (cols 5632: 16 -> 22 GB/s on one Zen 4
// core); 8-24 KiB ahead all do about as well. Into L2, not L1, so the
// stream does not evict x. Prefetching past the end of W is harmless:
// prefetches never fault.
constexpr int kPrefetchBytes = 16384;

// Requests the lines kPrefetchBytes past w[0 .. 64).

template <class Wt>
inline void prefetch_ahead(const Wt* w) {
  const char* p = reinterpret_cast<const char*>(w) + kPrefetchBytes;
  for (int i = 0; i < 64 * int(sizeof(Wt)); i += 64) _mm_prefetch(p + i, _MM_HINT_T1);
}

// sum_c w[c] * x[c], one weight stream.
template <class Wt>
float dot_row(const Wt* w, const float* x, int64_t cols) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t c = 0;
  for (; c + 64 <= cols; c += 64) {
    prefetch_ahead(w + c);
    a0 = _mm512_fmadd_ps(load16(w + c), load16(x + c), a0);
    a1 = _mm512_fmadd_ps(load16(w + c + 16), load16(x + c + 16), a1);
    a2 = _mm512_fmadd_ps(load16(w + c + 32), load16(x + c + 32), a2);
    a3 = _mm512_fmadd_ps(load16(w + c + 48), load16(x + c + 48), a3);
  }
  for (; c + 16 <= cols; c += 16) a0 = _mm512_fmadd_ps(load16(w + c), load16(x + c), a0);
  if (c < cols) {
    const __mmask16 m = tail_mask(cols - c);
    a1 = _mm512_fmadd_ps(load16(w + c, m), load16(x + c, m), a1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// Y[t * ldy + r] = sum_c W[r * cols + c] * X[t * cols + c]  for r < R, t < T.
// `prefetch` on the first token block over these rows; later blocks find
// them in cache.
template <int R, int T, class Wt>
void tile(const Wt* W, int64_t cols, const float* X, float* Y, int64_t ldy, bool prefetch) {
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  int64_t c = 0;
  for (; c + 16 <= cols; c += 16) {
    if (prefetch)
      for (int r = 0; r < R; ++r)
        _mm_prefetch(reinterpret_cast<const char*>(W + r * cols + c) + kPrefetchBytes, _MM_HINT_T1);
    __m512 w[R];
    for (int r = 0; r < R; ++r) w[r] = load16(W + r * cols + c);
    for (int t = 0; t < T; ++t) {
      const __m512 x = load16(X + t * cols + c);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(w[r], x, acc[r][t]);
    }
  }
  if (c < cols) {
    const __mmask16 m = tail_mask(cols - c);
    __m512 w[R];
    for (int r = 0; r < R; ++r) w[r] = load16(W + r * cols + c, m);
    for (int t = 0; t < T; ++t) {
      const __m512 x = load16(X + t * cols + c, m);
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(w[r], x, acc[r][t]);
    }
  }
  for (int t = 0; t < T; ++t)
    for (int r = 0; r < R; ++r) Y[t * ldy + r] = _mm512_reduce_add_ps(acc[r][t]);
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

}  // namespace nibble::kernels::avx512
