// Per-type block codecs behind formats/gguf_blocks.h, and llama.cpp's
// scale-search helpers that several types share. Counts are in blocks
// (nb); `importance` is the row's imatrix slice or nullptr.
#pragma once

#include <cstdint>

#include "formats/gguf_blocks.h"

namespace nibble::formats::gguf_detail {

// llama.cpp's GROUP_MAX_EPS: a group whose largest |x| is below this is all zero.
constexpr float kGroupMaxEps = 1e-15f;

inline int nearest_int(float x) { return gguf_nearest_int(x); }

// The searches of ggml-quants.c (spec §5 "Helper searches"), same operation order.
// make_qx_quants: symmetric codes L in [0, 2 nmax) (value L - nmax), weights qw or x^2.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* qw);
// make_q3_quants with do_rmse: codes L in [0, 2 nmax), coordinate descent on x^2 weights.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L);
// make_qkx2 / make_qkx3: affine codes L in [0, nmax], value scale * L - *the_min.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);
// make_qp_quants: codes for non-negative values, weights quant_weights.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

// Legacy types (gguf_blocks_legacy.cpp). `n_per_row` = nb * 32, for the
// imatrix paths' whole-row sigma^2.
void quantize_q4_0(const float* x, BlockQ4_0* y, int64_t nb, const float* importance);
void quantize_q4_1(const float* x, BlockQ4_1* y, int64_t nb, const float* importance);
void quantize_q5_0(const float* x, BlockQ5_0* y, int64_t nb, const float* importance);
void quantize_q5_1(const float* x, BlockQ5_1* y, int64_t nb, const float* importance);
void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t nb);
void quantize_iq4_nl(const float* x, BlockIq4Nl* y, int64_t nb, const float* importance);
void dequantize_q4_0(const BlockQ4_0* x, float* y, int64_t nb);
void dequantize_q4_1(const BlockQ4_1* x, float* y, int64_t nb);
void dequantize_q5_0(const BlockQ5_0* x, float* y, int64_t nb);
void dequantize_q5_1(const BlockQ5_1* x, float* y, int64_t nb);
void dequantize_q8_0(const BlockQ8_0* x, float* y, int64_t nb);
void dequantize_iq4_nl(const BlockIq4Nl* x, float* y, int64_t nb);

// K-quants (gguf_blocks_kquants.cpp).
void quantize_q2_K(const float* x, BlockQ2_K* y, int64_t nb, const float* importance);
void quantize_q3_K(const float* x, BlockQ3_K* y, int64_t nb, const float* importance);
void quantize_q4_K(const float* x, BlockQ4_K* y, int64_t nb, const float* importance);
void quantize_q5_K(const float* x, BlockQ5_K* y, int64_t nb, const float* importance);
void quantize_q6_K(const float* x, BlockQ6_K* y, int64_t nb, const float* importance);
void quantize_q8_K(const float* x, BlockQ8_K* y, int64_t nb);
void dequantize_q2_K(const BlockQ2_K* x, float* y, int64_t nb);
void dequantize_q3_K(const BlockQ3_K* x, float* y, int64_t nb);
void dequantize_q4_K(const BlockQ4_K* x, float* y, int64_t nb);
void dequantize_q5_K(const BlockQ5_K* x, float* y, int64_t nb);
void dequantize_q6_K(const BlockQ6_K* x, float* y, int64_t nb);
void dequantize_q8_K(const BlockQ8_K* x, float* y, int64_t nb);

}  // namespace nibble::formats::gguf_detail
