// Scalar references for the GGUF kernels (the tests' oracle): activation
// quantization, and per block the integer dot products of spec §6 read
// straight out of the packed layout, one row and one token at a time.
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "kernels/gguf_matmul.h"
#include "kernels/gguf_packed_layout.h"

namespace nibble::kernels {

using namespace gguf_packed;

namespace {

// Round half to even for |v| <= 2^22 (the 1.5 * 2^23 trick), as the SIMD
// builds' cvtps2dq does under the default rounding mode.
int round_even(float v) {
  const float shifted = v + 12582912.f;
  int32_t bits;
  std::memcpy(&bits, &shifted, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

float load_f32(const uint8_t* p) {
  float f;
  std::memcpy(&f, p, 4);
  return f;
}

// One token's codes, scales and sums, positioned at a block.
struct TokenBlock {
  const int8_t* q;       // the block's codes
  float d;               // its scale
  const int16_t* sum16;  // sums per 16 from the block start
  const int16_t* sum32;  // sums per 32 from the block start
};

TokenBlock token_block(const GgufActivations& A, int64_t t, int64_t block_index) {
  const int64_t start = block_index * A.block;
  return {A.q + t * A.cols + start, A.d[t * (A.cols / A.block) + block_index],
          A.sum16 + t * (A.cols / 16) + start / 16, A.sum32 + t * (A.cols / 32) + start / 32};
}

// Row r's dot product with one token, per type. nb = blocks per row.
float dot_q4_0(const uint8_t* panel, int64_t nb, int r, const GgufActivations& A, int64_t t) {
  float y = 0;
  for (int64_t b = 0; b < nb; ++b) {
    const TokenBlock a = token_block(A, t, b);
    int32_t isum = 0;
    for (int e = 0; e < 32; ++e)
      isum += (get_nibble(panel + legacy_codes(b, kQ4_0Qs), r, e) - 8) * a.q[e];
    const float dw = load_f16(panel + legacy_scales(b, kQ4_0Qs) + 2 * r);
    y += dw * a.d * float(isum);
  }
  return y;
}

float dot_q8_0(const uint8_t* panel, int64_t nb, int r, const GgufActivations& A, int64_t t) {
  float y = 0;
  for (int64_t b = 0; b < nb; ++b) {
    const TokenBlock a = token_block(A, t, b);
    int32_t isum = 0;
    for (int e = 0; e < 32; ++e)
      isum += int(int8_t(panel[legacy_codes(b, kQ8_0Qs) + byte_q8(r, e)] ^ 0x80)) * a.q[e];
    const float dw = load_f16(panel + legacy_scales(b, kQ8_0Qs) + 2 * r);
    y += dw * a.d * float(isum);
  }
  return y;
}

// Q4_K and Q5_K: d * sum_j sc_j (q . a)_j - dmin * sum_j m_j sum32_j, per super-block.
template <bool kFifthBit>
float dot_k4(const uint8_t* panel, int64_t nsb, int r, const GgufActivations& A, int64_t t) {
  const int64_t tile_bytes = kFifthBit ? kQ5K_Tile : kQ4K_Tile;
  const int64_t sc_off = kFifthBit ? kQ5K_Sc : kQ4K_Sc, min_off = kFifthBit ? kQ5K_Min : kQ4K_Min;
  const int64_t d_off = kFifthBit ? kQ5K_D : kQ4K_D, dmin_off = kFifthBit ? kQ5K_Dmin : kQ4K_Dmin;
  float y = 0;
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const uint8_t* tile = panel + sb * tile_bytes;
    const TokenBlock a = token_block(A, t, sb);
    int32_t scaled = 0, mins = 0;
    for (int j = 0; j < 8; ++j) {
      int32_t isum = 0;
      for (int e = 0; e < 32; ++e) {
        int q = get_nibble(tile + k4_chunks(j, kFifthBit), r, e);
        if (kFifthBit) {
          const int bit = q5_mask_bit(r, e);
          q |= ((tile[q5_masks(j) + bit / 8] >> (bit % 8)) & 1) << 4;
        }
        isum += q * a.q[32 * j + e];
      }
      scaled += k4_scale(tile + sc_off, j, r) * isum;
      mins += k4_min(tile + sc_off, tile + min_off, j, r) * a.sum32[j];
    }
    const float d = load_f16(tile + d_off + 2 * r), dmin = load_f16(tile + dmin_off + 2 * r);
    y += a.d * (d * float(scaled) - dmin * float(mins));
  }
  return y;
}

// Q6_K: d * sum_s sc_s (q - 32) . a over sixteen 16-value sub-blocks.
float dot_q6_K(const uint8_t* panel, int64_t nsb, int r, const GgufActivations& A, int64_t t) {
  float y = 0;
  for (int64_t sb = 0; sb < nsb; ++sb) {
    const uint8_t* tile = panel + sb * kQ6K_Tile;
    const TokenBlock a = token_block(A, t, sb);
    int32_t total = 0;
    for (int s = 0; s < 16; ++s) {
      const int G = s / 2;
      int32_t isum = 0;
      for (int e = 16 * (s % 2); e < 16 * (s % 2) + 16; ++e) {
        const int low = get_nibble(tile + q6_low(G), r, e);
        const int high = (tile[q6_high(G) + q6_high_byte(r, e)] >> q6_high_shift(e)) & 3;
        isum += ((low | (high << 4)) - 32) * a.q[32 * G + e];
      }
      total += int32_t(int8_t(tile[q6_scales(G) + 2 * r + s % 2])) * isum;
    }
    y += a.d * load_f32(tile + kQ6K_D + 4 * r) * float(total);
  }
  return y;
}

}  // namespace

void gguf_quantize_activations_ref(const float* X, int64_t t0, int64_t t1, int64_t cols,
                                   int64_t block, int8_t* q, float* d, int16_t* sum16,
                                   int16_t* sum32) {
  for (int64_t t = t0; t < t1; ++t) {
    const float* x = X + t * cols;
    int8_t* qt = q + t * cols;
    for (int64_t b = 0; b < cols / block; ++b) {
      float amax = 0;
      for (int64_t e = 0; e < block; ++e) {
        const float a = std::fabs(x[b * block + e]);
        amax = amax < a ? a : amax;  // a NaN never wins, as in the SIMD builds
      }
      d[t * (cols / block) + b] = gguf_activation_scale(amax, block);
      const float id = amax > 0 ? 127.f / amax : 0.f;
      for (int64_t e = 0; e < block; ++e) {
        float v = x[b * block + e] * id;
        v = -127.f < v ? v : -127.f;  // NaN -> -127, as vmaxps(v, -127) does
        v = v < 127.f ? v : 127.f;
        qt[b * block + e] = int8_t(round_even(v));
      }
    }
    for (int64_t s = 0; s < cols / 16; ++s) {
      int sum = 0;
      for (int e = 0; e < 16; ++e) sum += qt[16 * s + e];
      sum16[t * (cols / 16) + s] = int16_t(sum);
    }
    for (int64_t s = 0; s < cols / 32; ++s)
      sum32[t * (cols / 32) + s] =
          int16_t(sum16[t * (cols / 16) + 2 * s] + sum16[t * (cols / 16) + 2 * s + 1]);
  }
}

void gguf_matmul_ref(const GgufPackedView& W, const GgufActivations& A, int64_t r0, int64_t r1,
                     float* Y, int64_t ldy) {
  const int64_t blocks = W.cols / A.block;
  for (int64_t row = r0; row < r1; ++row) {
    const uint8_t* panel = W.data + (row / kRows) * W.panel_bytes;
    const int r = int(row % kRows);
    for (int64_t t = 0; t < A.n; ++t) {
      float y = 0;
      switch (W.type) {
        case GgufKernelType::Q4_0: y = dot_q4_0(panel, blocks, r, A, t); break;
        case GgufKernelType::Q8_0: y = dot_q8_0(panel, blocks, r, A, t); break;
        case GgufKernelType::Q4_K: y = dot_k4<false>(panel, blocks, r, A, t); break;
        case GgufKernelType::Q5_K: y = dot_k4<true>(panel, blocks, r, A, t); break;
        case GgufKernelType::Q6_K: y = dot_q6_K(panel, blocks, r, A, t); break;
      }
      Y[t * ldy + row] = y;
    }
  }
}

}  // namespace nibble::kernels
