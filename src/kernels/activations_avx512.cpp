// The activations, AVX-512 build: activations_body.h vectorized for 16 lanes.
#include "kernels/activations.h"
#include "kernels/activations_body.h"

namespace nibble::kernels::avx512 {

using Floats = float __attribute__((vector_size(64)));
using Ints = int32_t __attribute__((vector_size(64)));
using Doubles = double __attribute__((vector_size(64)));
using Int64s = uint64_t __attribute__((vector_size(64)));
using HalfFloats = float __attribute__((vector_size(32)));  // as many as Doubles

void exp_nearest(const float* x, float* y, int64_t n) {
  exp_nearest_body<Doubles, Int64s, HalfFloats>(x, y, n);
}

void softmax(float* x, int64_t n) { softmax_body<Floats, Ints>(x, n); }

void silu_mul(const float* gate, float* y, int64_t n) { silu_mul_body<Floats, Ints>(gate, y, n); }

}  // namespace nibble::kernels::avx512
