// Threaded entry points of the bitsandbytes kernels: validate, pick the ISA
// build, split rows.
#include "kernels/bnb_matmul.h"

#include "core/error.h"
#include "kernels/dispatch.h"

namespace nibble::kernels {
namespace {

using FourBitFn = void (*)(const FourBitMatrixView& W, int64_t r0, int64_t r1, const float* X,
                           int64_t n, float* Y, int64_t ldy);
using Int8Fn = void (*)(const int8_t* cb, const float* scb, int64_t r0, int64_t r1, int64_t cols,
                        const int8_t* XQ, const float* xscale, int64_t n, float* Y, int64_t ldy);

constexpr IsaKernels<FourBitFn> kFourBit{matmul_4bit_ref, avx2::matmul_4bit_rows,
                                         avx512::matmul_4bit_rows};
constexpr IsaKernels<Int8Fn> kInt8{matmul_int8_ref, avx2::matmul_int8_rows,
                                   avx512::matmul_int8_rows};
constexpr int64_t kRowBlock = 16;

}  // namespace

void matmul_4bit(const FourBitMatrixView& W, const float* X, int64_t n, float* Y) {
  NIBBLE_CHECK(W.rows >= 0 && W.cols >= 0 && W.cols % kBnbBlock == 0 && n >= 0,
               "matmul_4bit: ", W.rows, " x ", W.cols, " weights (columns must be a multiple of 64)");
  if (n == 0) return;
  const FourBitFn kernel = pick(kFourBit);
  for_row_blocks(W.rows, kRowBlock, n * W.cols,
                 [&](int64_t r0, int64_t r1) { kernel(W, r0, r1, X, n, Y, W.rows); });
}

void matmul_int8(const int8_t* cb, const float* scb, int64_t rows, int64_t cols, const int8_t* XQ,
                 const float* xscale, int64_t n, float* Y) {
  NIBBLE_CHECK(rows >= 0 && cols >= 0 && n >= 0, "matmul_int8: negative shape");
  if (n == 0) return;
  const Int8Fn kernel = pick(kInt8);
  for_row_blocks(rows, kRowBlock, n * cols, [&](int64_t r0, int64_t r1) {
    kernel(cb, scb, r0, r1, cols, XQ, xscale, n, Y, rows);
  });
}

}  // namespace nibble::kernels
