// The canonical quantized weight of one linear layer (design.md): group-wise
// affine integer codes that RTN, GPTQ and AWQ produce and every codec reads
// or writes. W is [rows = out_features, cols = in_features];
//
//   W[r, c] ≈ (q[r, c] − z[r, g]) · s[r, g],   g = group of column c,
//
// computed exactly so in f32 from the stored fp16 s and z.
//
// - bits ∈ {2, 3, 4, 8}; codes one byte each, row-major, in [0, 2^bits).
// - Groups: column c belongs to group c / group_size, or g_idx[c] when
//   g_idx is present (GPTQ act-order, desc_act); groups =
//   ceil(cols / group_size). group_size == cols is per-channel.
// - cols not divisible by group_size: the last group is partial (it holds
//   the remaining cols % group_size columns). This is what the GPTQ
//   reference and AutoGPTQ do (G = ceil(in / g)), it loses nothing, and the
//   runtime kernels pad that group with zero activations. (Exporters with
//   stricter rules — GPTQ packing needs multiples of 32 — check their own.)
// - scales, zeros: fp16 bits, [rows, groups] row-major. Zeros hold integer
//   codes in [0, 2^bits − 1] for the GPTQ/AWQ grids (validate() accepts any
//   finite value, since the math does not need integers); symmetric means
//   every zero is 2^(bits−1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quant/gptq.h"

namespace nibble::quant {

struct QuantTensor {
  int64_t rows = 0, cols = 0;
  int bits = 4;
  int64_t group_size = 128;  // == cols for per-channel
  bool symmetric = false;
  std::vector<uint8_t> codes;    // [rows, cols]
  std::vector<uint16_t> scales;  // fp16 bits, [rows, groups]
  std::vector<uint16_t> zeros;   // fp16 bits, [rows, groups]
  std::vector<int32_t> g_idx;    // empty, or [cols]: the group of each column

  int64_t groups() const { return cols == 0 ? 0 : (cols + group_size - 1) / group_size; }
  bool per_channel() const { return group_size >= cols; }
  bool act_order() const { return !g_idx.empty(); }
  int64_t group_of(int64_t c) const { return g_idx.empty() ? c / group_size : g_idx[size_t(c)]; }
  float scale(int64_t r, int64_t g) const;
  float zero(int64_t r, int64_t g) const;

  // Throws nibble::Error naming `name` (the tensor) on: bits outside
  // {2,3,4,8}; an empty shape; a group size < 1 or > cols; array sizes that do not match the
  // shape; a code ≥ 2^bits; a g_idx value outside [0, groups); a scale or
  // zero that is not finite; a symmetric tensor whose zeros are not
  // 2^(bits−1).
  void validate(const std::string& name = "quantized tensor") const;

  // (q − z) · s in f32, [rows, cols] row-major.
  std::vector<float> dequantize() const;

  // Storage per weight of the information held: `bits` per code, 16 per
  // fp16 scale and per fp16 zero (none for symmetric, where it is implied),
  // 32 per g_idx entry, spread over rows · cols.
  double bits_per_weight() const;

  // "w4g128", "w4g128-sym", "w8 per-channel", "w8-sym per-channel",
  // "w3g64 act-order".
  std::string format() const;
};

// The canonical tensor of a quantizer's output (GptqOutput from GPTQ or
// RTN). g_idx is kept only when it differs from c / group_size.
// group_size <= 0 or >= cols means per-channel.
QuantTensor to_quant_tensor(const GptqOutput& q, int bits, int64_t group_size, bool symmetric);

}  // namespace nibble::quant
