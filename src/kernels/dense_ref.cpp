#include "core/half.h"
#include "kernels/dense.h"

namespace nibble::kernels {

void matmul_f32_ref(const float* W, int64_t r0, int64_t r1, int64_t cols, const float* X,
                    int64_t n, float* Y, int64_t ldy) {
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = r0; r < r1; ++r) {
      const float* w = W + r * cols;
      const float* x = X + t * cols;
      float acc = 0;
      for (int64_t c = 0; c < cols; ++c) acc += w[c] * x[c];
      Y[t * ldy + r] = acc;
    }
}

void matmul_bf16_ref(const uint16_t* W, int64_t r0, int64_t r1, int64_t cols, const float* X,
                     int64_t n, float* Y, int64_t ldy) {
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = r0; r < r1; ++r) {
      const uint16_t* w = W + r * cols;
      const float* x = X + t * cols;
      float acc = 0;
      for (int64_t c = 0; c < cols; ++c) acc += bf16_to_f32(w[c]) * x[c];
      Y[t * ldy + r] = acc;
    }
}

}  // namespace nibble::kernels
