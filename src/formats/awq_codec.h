// AutoAWQ checkpoint tensors (specs/awq.md §8–§9) ⇄ quantized linears.
// 4-bit codes with zero points only; input k is always in group k / g (no
// g_idx). Per linear with K inputs, N outputs, G = K / g groups:
//
// GEMM (version "gemm", the interchange layout):
//   qweight int32 [K, N/8]   8 output columns per word, column 8c + kAwqPackOrder[i] in bits 4i..4i+3
//   qzeros  int32 [G, N/8]   zero points, same packing, stored as is
//   scales  fp16  [G, N]
// GEMV (version "gemv", read only):
//   qweight int32 [N, K/8]   8 input columns per word in natural order
//   qzeros  int32 [N, W]     zero points of groups 8c..8c+7 per word, natural order, zero padded
//   scales  fp16  [N, 8W]    per group, zero padded; W = ceil(G/8) rounded up to a multiple of
//                            1 (g >= 128), 2 (g = 64) or 4 (g = 32)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor_view.h"
#include "quant/gptq.h"

namespace nibble::formats {

// Which output column of a group of 8 each nibble of a GEMM word holds.
inline constexpr int kAwqPackOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

// codes[j * stride] for the 8 columns j < 8 of one GEMM word, and back.
uint32_t pack_awq_word(const uint8_t* codes, int64_t stride);
void unpack_awq_word(uint32_t word, uint8_t* codes, int64_t stride);

struct AwqTensors {
  std::vector<int32_t> qweight, qzeros;
  std::vector<uint16_t> scales;  // fp16 bits
  int64_t k = 0, n = 0, groups = 0;
};

// Whether a linear fits the GEMM layout: N % 8 == 0 and K % group_size == 0.
bool awq_packable(int64_t in_features, int64_t out_features, int64_t group_size);

// q must be 4-bit codes in groups of group_size consecutive inputs.
AwqTensors encode_awq_gemm(const quant::GptqOutput& q, int64_t group_size);

// group_size -1 means one group per row. Errors name `prefix` and the tensor.
quant::GptqOutput decode_awq_gemm(const std::string& prefix, const TensorView& qweight,
                                  const TensorView& qzeros, const TensorView& scales, int64_t group_size);
quant::GptqOutput decode_awq_gemv(const std::string& prefix, const TensorView& qweight,
                                  const TensorView& qzeros, const TensorView& scales, int64_t group_size);

}  // namespace nibble::formats
