// Picks the activations' ISA build (dispatch.h).
#include "kernels/activations.h"

#include "kernels/dispatch.h"

namespace nibble::kernels {

namespace {
constexpr IsaKernels<ExpNearestFn> kExpNearest{exp_nearest_ref, avx2::exp_nearest, avx512::exp_nearest};
constexpr IsaKernels<SoftmaxFn> kSoftmax{softmax_ref, avx2::softmax, avx512::softmax};
constexpr IsaKernels<SiluMulFn> kSiluMul{silu_mul_ref, avx2::silu_mul, avx512::silu_mul};
}  // namespace

void exp_nearest(const float* x, float* y, int64_t n) { pick(kExpNearest)(x, y, n); }

void softmax(float* x, int64_t n) { pick(kSoftmax)(x, n); }

void silu_mul(const float* gate, float* y, int64_t n) { pick(kSiluMul)(gate, y, n); }

}  // namespace nibble::kernels
