// grid_error: every SIMD build returns exactly the scalar reference's float
// (the quantizer's choices must not depend on the CPU), and the reference
// equals Σ|ŵ − w|^norm computed here in double with std::pow.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "kernels/dispatch.h"
#include "kernels/grid_error.h"

namespace nibble::kernels {
namespace {

std::vector<GridErrorFn> runnable_builds() {
  std::vector<GridErrorFn> builds;
  if (cpu_runs(Isa::avx2)) builds.push_back(avx2::grid_error);
  if (cpu_runs(Isa::avx512)) builds.push_back(avx512::grid_error);
  return builds;
}

// The definition, independently: round half to even, clamp, dequantize.
double power_error(const std::vector<float>& w, int64_t n, float scale, float zero, float maxq, double norm) {
  double sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    const double q = std::clamp(double(std::nearbyint(w[j] / scale)) + zero, 0.0, double(maxq));
    const double d = std::abs(scale * (q - zero) - double(w[j]));
    if (d >= std::ldexp(1.0, -100)) sum += std::pow(d, norm);
  }
  return sum;
}

struct Case {
  std::vector<float> w;
  float scale, zero, maxq;
};

std::vector<Case> cases() {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<Case> out;
  for (int64_t n : {1, 5, 8, 9, 16, 17, 31, 32, 64, 100, 128, 300}) {
    for (float maxq : {3.0f, 7.0f, 15.0f, 255.0f}) {
      Case c;
      c.w.resize(static_cast<size_t>(n));
      for (float& x : c.w) x = normal(rng);
      float lo = 0, hi = 0;
      for (float x : c.w) lo = std::min(lo, x), hi = std::max(hi, x);
      // A shrunk range, so that some weights clip.
      c.scale = 0.8f * (hi - lo) / maxq + 1e-6f;
      c.zero = std::nearbyint(-0.8f * lo / c.scale);
      c.maxq = maxq;
      out.push_back(c);
    }
  }
  Case exact;  // weights on the grid: every term is 0
  exact.scale = 0.25f, exact.zero = 8, exact.maxq = 15;
  for (int q = 0; q < 16; ++q) exact.w.push_back(0.25f * float(q - 8));
  out.push_back(exact);
  Case huge = exact;  // an error too large for 2^y in floats: the sum is +inf
  huge.w.push_back(3e37f);
  out.push_back(huge);
  return out;
}

TEST(GridError, ReferenceEqualsTheDefinition) {
  for (float norm : {2.4f, 2.0f, 1.0f, 3.0f}) {
    for (const Case& c : cases()) {
      const int64_t n = int64_t(c.w.size());
      const double want = power_error(c.w, n, c.scale, c.zero, c.maxq, norm);
      const float got = grid_error_ref(c.w.data(), n, c.scale, c.zero, c.maxq, norm);
      if (want > std::numeric_limits<float>::max()) {
        EXPECT_TRUE(std::isinf(got)) << "norm " << norm << ", n " << n;
        continue;
      }
      EXPECT_NEAR(got, want, 2e-6 * want + 1e-30) << "norm " << norm << ", n " << n << ", maxq " << c.maxq;
    }
  }
}

TEST(GridError, EveryBuildReturnsTheReferencesBits) {
  if (runnable_builds().empty()) GTEST_SKIP() << "no SIMD build runs on this CPU";
  for (GridErrorFn build : runnable_builds())
    for (float norm : {2.4f, 2.0f, 1.0f, 3.0f})
      for (const Case& c : cases()) {
        const int64_t n = int64_t(c.w.size());
        const float want = grid_error_ref(c.w.data(), n, c.scale, c.zero, c.maxq, norm);
        const float got = build(c.w.data(), n, c.scale, c.zero, c.maxq, norm);
        if (std::isnan(want)) {
          EXPECT_TRUE(std::isnan(got));
        } else {
          EXPECT_EQ(got, want) << "norm " << norm << ", n " << n << ", maxq " << c.maxq;
        }
      }
}

}  // namespace
}  // namespace nibble::kernels
