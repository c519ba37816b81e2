// Products with dense (unquantized) weights, the f32 and bf16 kernels of
// unquantized models. W is row-major [rows, cols] as stored in checkpoints
// (out_features x in_features); X holds n activation rows of length cols.
//
//   Y[t, r] = sum_c X[t, c] * W[r, c]      t < n, r < rows
//
// Multi-threaded over rows. The *_ref functions are the scalar references
// the tests hold the fast paths to; the plain names dispatch to the best
// implementation for this CPU (core/cpu.h, kernels/dispatch.h).
//
// The fast paths accumulate in f32 (bf16 weights are widened exactly), in a
// different order than the references, so results agree to rounding.
// n == 1 (decode) streams each weight row once and allocates nothing;
// n > 1 (prefill) reuses every weight load across a block of tokens.
#pragma once

#include <cstdint>

namespace nibble::kernels {

void matmul_f32(const float* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y);
void matmul_bf16(const uint16_t* W, int64_t rows, int64_t cols, const float* X, int64_t n,
                 float* Y);

// Scalar references over a row range [r0, r1), single-threaded.
void matmul_f32_ref(const float* W, int64_t r0, int64_t r1, int64_t cols, const float* X,
                    int64_t n, float* Y, int64_t ldy);
void matmul_bf16_ref(const uint16_t* W, int64_t r0, int64_t r1, int64_t cols, const float* X,
                     int64_t n, float* Y, int64_t ldy);

// The same row-range contract, built for one instruction set
// (dense_avx2.cpp, dense_avx512.cpp). Call one only where
// cpu_runs(Isa::avx2 / Isa::avx512) (kernels/dispatch.h) holds.
namespace avx2 {
void matmul_f32_rows(const float* W, int64_t r0, int64_t r1, int64_t cols, const float* X,
                     int64_t n, float* Y, int64_t ldy);
void matmul_bf16_rows(const uint16_t* W, int64_t r0, int64_t r1, int64_t cols, const float* X,
                      int64_t n, float* Y, int64_t ldy);
}  // namespace avx2
namespace avx512 {
void matmul_f32_rows(const float* W, int64_t r0, int64_t r1, int64_t cols, const float* X,
                     int64_t n, float* Y, int64_t ldy);
void matmul_bf16_rows(const uint16_t* W, int64_t r0, int64_t r1, int64_t cols, const float* X,
                      int64_t n, float* Y, int64_t ldy);
}  // namespace avx512

}  // namespace nibble::kernels
