// GPTQ for one linear layer (specs/gptq.md §3): quantize the columns of W
// one at a time and spread each column's rounding error over the columns
// not yet quantized, weighted by the inverse Hessian of the layer's inputs,
// in lazy blocks of 128 columns. Supports groups, act-order (columns in
// decreasing Hessian-diagonal order), static groups, sym/asym, 2-8 bits.
//
// Deviations from the reference, both deliberate: scales are rounded to
// fp16 when a group is fitted (the checkpoint stores fp16, so the error the
// solver compensates is the error the model will see), and the per-channel
// fit happens after dead columns are zeroed (their weights never matter).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace nibble::quant {

struct GptqOptions {
  int bits = 4;
  int group_size = 128;  // <= 0: one group per row (per-channel)
  bool symmetric = false;
  bool act_order = false;
  bool static_groups = false;
  double damp = 0.01;    // fraction of the mean Hessian diagonal added to it
  bool clip_search = false;  // fit each group's grid with the clipping search (GPTQModel's mse)
  int block_size = 128;
};

struct GptqOutput {
  int64_t rows = 0, cols = 0;
  int groups = 0;
  std::vector<uint8_t> codes;   // rows x cols, original column order
  std::vector<float> scales;    // rows x groups, fp16-exact values
  std::vector<float> zeros;     // rows x groups, integer codes
  std::vector<int32_t> g_idx;   // group of each input column
  double damp_used = 0;         // the dampening that made Cholesky succeed
  double loss = 0;              // Σ (w - q)² / d² / 2, the reference's error measure
  std::vector<std::string> warnings;
};

// W: rows x cols row-major (f32). H: cols x cols, from HessianAccumulator.
GptqOutput gptq_quantize(const float* W, int64_t rows, int64_t cols, std::vector<float> H,
                         const GptqOptions& options);

// Dequantized weights of a quantized linear, row-major [rows, cols].
std::vector<float> dequantize(const GptqOutput& q);

// Upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ U), row-major; false if H is not
// positive definite. Exposed for tests.
bool inverse_cholesky_upper(std::vector<float>& H, int64_t n);

}  // namespace nibble::quant
