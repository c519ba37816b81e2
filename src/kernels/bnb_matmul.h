// Products with bitsandbytes weights (specs/bitsandbytes.md §6):
//
//   4-bit  Y[t, r] = sum_b absmax[r, b] * sum_{c in block b} table[q[r, c]] * X[t, c]
//          q in bnb's own packing (row-major, first value in the high
//          nibble), blocks of 64 columns; cols must be a multiple of 64 so
//          that blocks never straddle rows (true of every Llama shape).
//          The 16-entry table (NF4 or FP4) is a lookup per value: the AVX2
//          build permutes two 8-lane halves, AVX-512 one 16-lane register.
//
//   int8   Y[t, r] = (sum_c xq[t, c] * cb[r, c]) * xscale[t] * scb[r] / 127²
//          with int32 accumulation (LLM.int8's vector-wise product; the
//          outlier columns are the caller's business, quant/bnb_linear.h).
//
// *_ref are the scalar oracles over a row range; avx2:: / avx512:: the same
// contract per instruction set; the plain names pick one and thread it.
#pragma once

#include <cstdint>

namespace nibble::kernels {

constexpr int64_t kBnbBlock = 64;

struct FourBitMatrixView {
  const uint8_t* packed = nullptr;  // rows * cols / 2 bytes
  const float* absmax = nullptr;    // rows * cols / 64
  const float* table = nullptr;     // 16 values
  int64_t rows = 0, cols = 0;
};

void matmul_4bit(const FourBitMatrixView& W, const float* X, int64_t n, float* Y);
void matmul_int8(const int8_t* cb, const float* scb, int64_t rows, int64_t cols, const int8_t* XQ,
                 const float* xscale, int64_t n, float* Y);

void matmul_4bit_ref(const FourBitMatrixView& W, int64_t r0, int64_t r1, const float* X, int64_t n,
                     float* Y, int64_t ldy);
void matmul_int8_ref(const int8_t* cb, const float* scb, int64_t r0, int64_t r1, int64_t cols,
                     const int8_t* XQ, const float* xscale, int64_t n, float* Y, int64_t ldy);

namespace avx2 {
void matmul_4bit_rows(const FourBitMatrixView& W, int64_t r0, int64_t r1, const float* X,
                      int64_t n, float* Y, int64_t ldy);
void matmul_int8_rows(const int8_t* cb, const float* scb, int64_t r0, int64_t r1, int64_t cols,
                      const int8_t* XQ, const float* xscale, int64_t n, float* Y, int64_t ldy);
}  // namespace avx2
namespace avx512 {
void matmul_4bit_rows(const FourBitMatrixView& W, int64_t r0, int64_t r1, const float* X,
                      int64_t n, float* Y, int64_t ldy);
void matmul_int8_rows(const int8_t* cb, const float* scb, int64_t r0, int64_t r1, int64_t cols,
                      const int8_t* XQ, const float* xscale, int64_t n, float* Y, int64_t ldy);
}  // namespace avx512

}  // namespace nibble::kernels
