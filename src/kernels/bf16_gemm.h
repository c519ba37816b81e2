// Y = X · Wᵀ with both operands rounded to bf16 and the products summed in
// f32: the calibration forward of GPTQ and AWQ (the pass that produces
// each linear's inputs), where it runs at twice the f32 rate on CPUs with
// AVX512-BF16 (vdpbf16ps, two bf16 products per f32 lane). AutoGPTQ runs
// the same pass in fp16; the Hessians built from its outputs stay f32.
//
// W is a linear's [rows, cols] weights (out x in), X holds M activation
// rows of length cols, Y is M x rows. Single-threaded: the quantizer splits
// sequences over threads. Other CPUs compute the same products with f32
// BLAS on the bf16-rounded operands (exact products, f32 sums), so the
// result differs between CPUs only in the order of the sums.
#pragma once

#include <cstdint>
#include <vector>

#include "core/cpu.h"

namespace nibble::kernels {

// W in the layout of the CPU's kernel, made once per weight matrix.
struct Bf16Weights {
  int64_t rows = 0, cols = 0;
  // AVX512-BF16: panels of 32 rows; per pair of columns (k, k+1), 32
  // dwords holding row r's bf16 W[r][k] (low half) and W[r][k+1] (high
  // half). Rows and the last column are zero-padded.
  std::vector<uint32_t> panels;
  std::vector<float> rounded;  // otherwise: W rounded to bf16, row-major
};

// `isa` picks the layout (the tests pack for both).
Bf16Weights pack_bf16_weights(const float* W, int64_t rows, int64_t cols, Isa isa = best_isa());

// Y[M x rows] = X[M x cols] · Wᵀ, or Y += that with `accumulate`.
void bf16_gemm(const float* X, int64_t M, const Bf16Weights& W, float* Y, bool accumulate);

// Scalar reference from the unpacked weights: products of the rounded
// operands, summed in f32 in column order. The tests' oracle.
void bf16_gemm_ref(const float* X, int64_t M, const float* W, int64_t rows, int64_t cols, float* Y,
                   bool accumulate);

namespace avx512 {
constexpr int64_t kBf16PanelRows = 32;
// X as bf16 pairs (M x pairs dwords, as the panels), Y with row stride ldy.
void bf16_gemm_panels(const uint32_t* X_pairs, int64_t M, int64_t pairs, const uint32_t* panels, int64_t rows,
                      float* Y, int64_t ldy, bool accumulate);
}  // namespace avx512

}  // namespace nibble::kernels
