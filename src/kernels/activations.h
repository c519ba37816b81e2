// The exp-based activations of the forward pass: the attention softmax and
// the SwiGLU gate. With libm's scalar exp they were a few percent of a
// forward pass (and of GPTQ's calibration passes); the SIMD builds compute
// exp with a polynomial the compiler vectorizes (activations_body.h),
// within 1e-6 + 1e-7·|x| relative of the scalar references' std::exp.
// exp_nearest is the exact one, for llama.cpp's attention order (whose
// weights come from libm's expf): as precise as libm, 8 lanes at a time.
#pragma once

#include <cstdint>

namespace nibble::kernels {

// y[i] ← e^x[i] rounded to the nearest float (computed in double, as
// glibc's expf does, so the two agree but where e^x lies within about 1e-14
// of a rounding midpoint). x and y may be the same array.
void exp_nearest(const float* x, float* y, int64_t n);
// In place: x ← exp(x − max x) / Σ exp(x − max x), over n > 0 values.
void softmax(float* x, int64_t n);
// In place: y[i] ← silu(gate[i]) · y[i] = gate[i] / (1 + exp(−gate[i])) · y[i].
void silu_mul(const float* gate, float* y, int64_t n);

using ExpNearestFn = void (*)(const float* x, float* y, int64_t n);
using SoftmaxFn = void (*)(float* x, int64_t n);
using SiluMulFn = void (*)(const float* gate, float* y, int64_t n);

// Scalar references (std::exp), the tests' oracle.
void exp_nearest_ref(const float* x, float* y, int64_t n);
void softmax_ref(float* x, int64_t n);
void silu_mul_ref(const float* gate, float* y, int64_t n);

// Per-ISA builds (activations_avx2.cpp, activations_avx512.cpp).
namespace avx2 {
void exp_nearest(const float* x, float* y, int64_t n);
void softmax(float* x, int64_t n);
void silu_mul(const float* gate, float* y, int64_t n);
}  // namespace avx2
namespace avx512 {
void exp_nearest(const float* x, float* y, int64_t n);
void softmax(float* x, int64_t n);
void silu_mul(const float* gate, float* y, int64_t n);
}  // namespace avx512

}  // namespace nibble::kernels
