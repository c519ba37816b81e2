// The activations, AVX2 build: activations_body.h vectorized for 8 lanes.
#include "kernels/activations.h"
#include "kernels/activations_body.h"

namespace nibble::kernels::avx2 {

using Floats = float __attribute__((vector_size(32)));
using Ints = int32_t __attribute__((vector_size(32)));
using Doubles = double __attribute__((vector_size(32)));
using Int64s = uint64_t __attribute__((vector_size(32)));
using HalfFloats = float __attribute__((vector_size(16)));  // as many as Doubles

void exp_nearest(const float* x, float* y, int64_t n) {
  exp_nearest_body<Doubles, Int64s, HalfFloats>(x, y, n);
}

void softmax(float* x, int64_t n) { softmax_body<Floats, Ints>(x, n); }

void silu_mul(const float* gate, float* y, int64_t n) { silu_mul_body<Floats, Ints>(gate, y, n); }

}  // namespace nibble::kernels::avx2
