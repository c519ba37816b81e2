// The error the clipping searches (quant/group_params.h) minimize, for one
// affine grid over one group of weights:
//
//   grid_error = Σ_j |ŵ_j − w_j|^norm,  ŵ_j = scale · (clamp(round(w_j / scale) + zero, 0, maxq) − zero)
//
// GPTQ's default search evaluates it 80 times for every (row, group) of
// every linear — tens of billions of terms for a 1B model — and libm's pow
// made it the quantizer's largest cost. The builds here compute |d|^norm as
// 2^(norm · log2|d|) with short polynomials (relative error below 1e-6; see
// grid_error_poly.h) and sum in 16 lanes (element j in lane j mod 16, lanes
// added in order at the end). Every build does the same IEEE operations in
// the same order (each product that meets a sum is an explicit fused
// multiply-add), so all of them return bit-identical results and the
// quantizer's choices do not depend on the CPU. norm == 2 sums d·d exactly.
// Terms with |d| < 2^-100 count as 0.
#pragma once

#include <cstdint>

namespace nibble::kernels {

using GridErrorFn = float (*)(const float* w, int64_t n, float scale, float zero, float maxq,
                              float norm);

float grid_error(const float* w, int64_t n, float scale, float zero, float maxq, float norm);

float grid_error_ref(const float* w, int64_t n, float scale, float zero, float maxq, float norm);

namespace avx2 {
float grid_error(const float* w, int64_t n, float scale, float zero, float maxq, float norm);
}  // namespace avx2

namespace avx512 {
float grid_error(const float* w, int64_t n, float scale, float zero, float maxq, float norm);
}  // namespace avx512

}  // namespace nibble::kernels
