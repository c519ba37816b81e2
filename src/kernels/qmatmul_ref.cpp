// Scalar references of the integer-weight products (contracts in
// qmatmul.h): the int8-activation formula on the runtime layout, the plain
// f32 product on the canonical weights, and activation quantization.
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/qmatmul.h"

namespace nibble::kernels {

void quantize_blocks_ref(const float* x, int64_t blocks, int8_t* q, float* scale, int32_t* sum) {
  for (int64_t b = 0; b < blocks; ++b, x += kQColBlock, q += kQColBlock) {
    float amax = 0;
    for (int j = 0; j < kQColBlock; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float inv = amax > 0 ? 127.0f / amax : 0.0f;
    int32_t s = 0;
    for (int j = 0; j < kQColBlock; ++j) {
      float v = std::nearbyint(x[j] * inv);
      if (!(v >= -127.0f)) v = -127.0f;  // also NaN
      if (v > 127.0f) v = 127.0f;
      q[j] = int8_t(v);
      s += q[j];
    }
    scale[b] = amax / 127.0f;
    sum[b] = s;
  }
}

void qmatmul_ref(const QuantMatrixView& W, int64_t rb0, int64_t rb1, const QuantActivationsView& X,
                 float* Y, int64_t ldy) {
  const int64_t block_bytes = 64 * W.bits;
  for (int64_t rb = rb0; rb < rb1; ++rb) {
    for (int i = 0; i < kQRowBlock; ++i) {
      const int64_t r = rb * kQRowBlock + i;
      if (r >= W.rows) break;
      for (int64_t t = 0; t < X.n; ++t) {
        const int8_t* xq = X.q + t * X.k_pad;
        const float* xs = X.scale + t * X.blocks;
        const float* gs = X.group_sum + t * X.groups;
        const uint8_t* p = W.data + rb * W.row_block_bytes;
        float y = 0;
        int64_t b = 0;
        for (int64_t g = 0; g < W.groups; ++g) {
          uint16_t s16, z16;
          std::memcpy(&s16, p + 2 * i, 2);
          std::memcpy(&z16, p + 2 * (kQRowBlock + i), 2);
          p += kQHeaderBytes;
          float acc = 0;
          for (int32_t k = 0; k < W.group_blocks[g]; ++k, ++b, p += block_bytes) {
            int32_t dot = 0;
            for (int j = 0; j < kQColBlock; ++j)
              dot += packed_code(p, W.bits, i, j) * int32_t(xq[b * kQColBlock + j]);
            acc += xs[b] * float(dot);
          }
          y += f16_to_f32(s16) * (acc - f16_to_f32(z16) * gs[g]);
        }
        Y[t * ldy + r] = y;
      }
    }
  }
}

void qmatmul_dequant_ref(const QuantSource& W, const float* X, int64_t n, float* Y) {
  const int64_t groups = W.cols == 0 ? 0 : (W.cols + W.group_size - 1) / W.group_size;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < W.rows; ++r) {
      float y = 0;
      for (int64_t c = 0; c < W.cols; ++c) {
        const int64_t g = W.g_idx ? W.g_idx[c] : c / W.group_size;
        const float s = f16_to_f32(W.scales[r * groups + g]);
        const float z = f16_to_f32(W.zeros[r * groups + g]);
        y += (float(W.codes[r * W.cols + c]) - z) * s * X[t * W.cols + c];
      }
      Y[t * W.rows + r] = y;
    }
}

}  // namespace nibble::kernels
