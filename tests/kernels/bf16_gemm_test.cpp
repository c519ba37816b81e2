// bf16_gemm: the packed kernel of this CPU (AVX512-BF16 or f32 BLAS on the
// rounded operands) against the scalar reference on ragged shapes, with and
// without accumulation; and the reference against the definition computed
// here in double: products of bf16-rounded operands.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/bf16_gemm.h"

namespace nibble::kernels {
namespace {

std::vector<float> normal(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

// Round to nearest even bf16, independently of the project's converter.
double bf16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000u;
  float r;
  std::memcpy(&r, &bits, 4);
  return r;
}

TEST(Bf16Gemm, ReferenceMultipliesTheRoundedOperands) {
  const int64_t M = 3, rows = 5, cols = 37;
  const std::vector<float> X = normal(M * cols, 1), W = normal(rows * cols, 2);
  std::vector<float> Y(size_t(M * rows));
  bf16_gemm_ref(X.data(), M, W.data(), rows, cols, Y.data(), false);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t r = 0; r < rows; ++r) {
      double want = 0, magnitude = 0;
      for (int64_t k = 0; k < cols; ++k) {
        want += bf16(X[m * cols + k]) * bf16(W[r * cols + k]);
        magnitude += std::abs(bf16(X[m * cols + k]) * bf16(W[r * cols + k]));
      }
      EXPECT_NEAR(Y[m * rows + r], want, 1e-6 * magnitude);
    }
}

// Both layouts: AVX512-BF16 panels (where the CPU has them) and the f32
// BLAS fallback of other CPUs.
TEST(Bf16Gemm, PackedKernelsEqualTheReference) {
  struct Shape {
    int64_t M, rows, cols;
  };
  for (const Shape s : {Shape{1, 1, 1}, Shape{5, 33, 7}, Shape{12, 32, 64}, Shape{13, 70, 129},
                        Shape{40, 96, 2048}, Shape{200, 17, 300}})
    for (bool accumulate : {false, true})
      for (Isa isa : {Isa::avx2, Isa::avx512}) {
      const std::vector<float> X = normal(s.M * s.cols, 3), W = normal(s.rows * s.cols, 4),
                               Y0 = normal(s.M * s.rows, 5);
      std::vector<float> got = Y0, want = Y0;
      bf16_gemm(X.data(), s.M, pack_bf16_weights(W.data(), s.rows, s.cols, isa), got.data(), accumulate);
      bf16_gemm_ref(X.data(), s.M, W.data(), s.rows, s.cols, want.data(), accumulate);
      for (int64_t m = 0; m < s.M; ++m)
        for (int64_t r = 0; r < s.rows; ++r) {
          double magnitude = accumulate ? std::abs(Y0[m * s.rows + r]) : 0;
          for (int64_t k = 0; k < s.cols; ++k) magnitude += std::abs(X[m * s.cols + k] * W[r * s.cols + k]);
          ASSERT_NEAR(got[m * s.rows + r], want[m * s.rows + r], 1e-5 * magnitude)
              << isa_name(isa) << " " << s.M << "x" << s.rows << "x" << s.cols << " accumulate " << accumulate
              << " at " << m << ", " << r;
        }
      }
}

}  // namespace
}  // namespace nibble::kernels
