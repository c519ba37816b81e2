// Threaded entry points: validate, pick the ISA build, split rows.
#include "kernels/dense.h"

#include "core/error.h"
#include "kernels/dispatch.h"

namespace nibble::kernels {
namespace {

using MatmulF32Fn = void (*)(const float* W, int64_t r0, int64_t r1, int64_t cols, const float* X,
                             int64_t n, float* Y, int64_t ldy);
using MatmulBf16Fn = void (*)(const uint16_t* W, int64_t r0, int64_t r1, int64_t cols,
                              const float* X, int64_t n, float* Y, int64_t ldy);

constexpr IsaKernels<MatmulF32Fn> kMatmulF32{matmul_f32_ref, avx2::matmul_f32_rows,
                                             avx512::matmul_f32_rows};
constexpr IsaKernels<MatmulBf16Fn> kMatmulBf16{matmul_bf16_ref, avx2::matmul_bf16_rows,
                                               avx512::matmul_bf16_rows};

// Whole blocks of 16 rows per thread: a multiple of every kernel's row tile,
// and 64 bytes of each f32 output row.
constexpr int64_t kRowBlock = 16;

void check_shape(const char* what, const void* W, int64_t rows, int64_t cols, const float* X,
                 int64_t n, const float* Y) {
  NIBBLE_CHECK(rows >= 0 && cols >= 0 && n >= 0, what, ": negative shape (rows ", rows, ", cols ",
               cols, ", n ", n, ")");
  NIBBLE_CHECK(Y || rows * n == 0, what, ": null output for ", n, " x ", rows);
  NIBBLE_CHECK((W && X) || rows * cols * n == 0, what, ": null weight or input for ", rows, " x ",
               cols, " weights and ", n, " tokens");
}

}  // namespace

void matmul_f32(const float* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y) {
  check_shape("matmul_f32", W, rows, cols, X, n, Y);
  if (n == 0) return;
  const MatmulF32Fn kernel = pick(kMatmulF32);
  for_row_blocks(rows, kRowBlock, n * cols,
                 [&](int64_t r0, int64_t r1) { kernel(W, r0, r1, cols, X, n, Y, rows); });
}

void matmul_bf16(const uint16_t* W, int64_t rows, int64_t cols, const float* X, int64_t n,
                 float* Y) {
  check_shape("matmul_bf16", W, rows, cols, X, n, Y);
  if (n == 0) return;
  const MatmulBf16Fn kernel = pick(kMatmulBf16);
  for_row_blocks(rows, kRowBlock, n * cols,
                 [&](int64_t r0, int64_t r1) { kernel(W, r0, r1, cols, X, n, Y, rows); });
}

}  // namespace nibble::kernels
