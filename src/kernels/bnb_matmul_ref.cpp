#include "kernels/bnb_matmul.h"

namespace nibble::kernels {

void matmul_4bit_ref(const FourBitMatrixView& W, int64_t r0, int64_t r1, const float* X, int64_t n,
                     float* Y, int64_t ldy) {
  const int64_t blocks = W.cols / kBnbBlock;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* q = W.packed + r * W.cols / 2;
      const float* x = X + t * W.cols;
      float acc = 0;
      for (int64_t b = 0; b < blocks; ++b) {
        float block = 0;
        for (int64_t c = b * kBnbBlock; c < (b + 1) * kBnbBlock; ++c)
          block += W.table[(q[c / 2] >> (c % 2 == 0 ? 4 : 0)) & 15] * x[c];
        acc += W.absmax[r * blocks + b] * block;
      }
      Y[t * ldy + r] = acc;
    }
}

void matmul_int8_ref(const int8_t* cb, const float* scb, int64_t r0, int64_t r1, int64_t cols,
                     const int8_t* XQ, const float* xscale, int64_t n, float* Y, int64_t ldy) {
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = r0; r < r1; ++r) {
      int32_t acc = 0;
      for (int64_t c = 0; c < cols; ++c) acc += int32_t(XQ[t * cols + c]) * cb[r * cols + c];
      Y[t * ldy + r] = float(acc) * (xscale[t] * scb[r] * (1.0f / (127.0f * 127.0f)));
    }
}

}  // namespace nibble::kernels
