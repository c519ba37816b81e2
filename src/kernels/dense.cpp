#include "kernels/dense.h"

#include "core/parallel.h"

namespace nibble::kernels {

void matmul_f32(const float* W, int64_t rows, int64_t cols, const float* X, int64_t n, float* Y) {
  parallel_for(rows, [&](int64_t r0, int64_t r1) { matmul_f32_ref(W, r0, r1, cols, X, n, Y, rows); });
}

void matmul_bf16(const uint16_t* W, int64_t rows, int64_t cols, const float* X, int64_t n,
                 float* Y) {
  parallel_for(rows, [&](int64_t r0, int64_t r1) { matmul_bf16_ref(W, r0, r1, cols, X, n, Y, rows); });
}

}  // namespace nibble::kernels
