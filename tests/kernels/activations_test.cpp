// The activations: each SIMD build within 1e-6 + 1e-7·|argument of exp|
// relative of its scalar reference (libm's exp; a float argument x carries
// |x|·2^-24 of rounding, so exp's relative precision falls with |x|) over
// the range the forward pass produces, the
// references equal to the definitions computed here in double, and the
// edges (underflow to 0, overflow of exp(−gate) to a 0 activation) clean.
// exp_nearest: every build the nearest float to e^x (but in rare last
// bits), which is glibc's expf (what llama.cpp's attention calls) but in
// glibc's own rare last bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "kernels/activations.h"
#include "kernels/dispatch.h"

namespace nibble::kernels {
namespace {

struct Build {
  const char* name;
  SoftmaxFn softmax;
  SiluMulFn silu_mul;
  ExpNearestFn exp_nearest;
};

std::vector<Build> runnable_builds() {
  std::vector<Build> builds;
  if (cpu_runs(Isa::avx2)) builds.push_back({"avx2", avx2::softmax, avx2::silu_mul, avx2::exp_nearest});
  if (cpu_runs(Isa::avx512))
    builds.push_back({"avx512", avx512::softmax, avx512::silu_mul, avx512::exp_nearest});
  return builds;
}

std::vector<float> uniform(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = u(rng);
  return v;
}

// |got − want| ≤ (1e-6 + 1e-7 |exp_argument|) |want| element by element.
void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                  const std::vector<double>& exp_argument, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], (1e-6 + 1e-7 * std::abs(exp_argument[i])) * std::abs(want[i]) + 1e-37)
        << what << " at " << i;
}

std::vector<double> minus_max(const std::vector<float>& x) {
  const double max = *std::max_element(x.begin(), x.end());
  std::vector<double> d;
  for (float v : x) d.push_back(v - max);
  return d;
}

std::vector<double> as_double(const std::vector<float>& x) { return {x.begin(), x.end()}; }

TEST(Activations, ReferencesAreTheDefinitions) {
  std::vector<float> x = uniform(37, -30, 30, 1), gate = uniform(37, -30, 30, 2), y = uniform(37, -2, 2, 3);
  double max = x[0], sum = 0;
  for (float v : x) max = std::max(max, double(v));
  for (float v : x) sum += std::exp(double(v) - max);
  std::vector<float> softmax_want(x.size()), silu_want(y.size());
  for (size_t i = 0; i < x.size(); ++i) {
    softmax_want[i] = float(std::exp(double(x[i]) - max) / sum);
    silu_want[i] = float(double(gate[i]) / (1 + std::exp(-double(gate[i]))) * y[i]);
  }
  const std::vector<double> scores = minus_max(x);
  softmax_ref(x.data(), int64_t(x.size()));
  silu_mul_ref(gate.data(), y.data(), int64_t(y.size()));
  expect_close(x, softmax_want, scores, "softmax_ref");
  expect_close(y, silu_want, as_double(gate), "silu_mul_ref");
}

TEST(Activations, EveryBuildMatchesTheReference) {
  for (const Build& b : runnable_builds())
    for (int64_t n : {1, 2, 7, 16, 33, 130, 1000}) {
      // Attention scores spanning exp's useful range; gates as large as a
      // SwiGLU's pre-activations get.
      const std::vector<float> x = uniform(n, -60, 20, uint32_t(n)), gate = uniform(n, -40, 40, uint32_t(n + 1)),
                               y = uniform(n, -3, 3, uint32_t(n + 2));
      std::vector<float> s = x, s_ref = x, m = y, m_ref = y;
      b.softmax(s.data(), n);
      softmax_ref(s_ref.data(), n);
      expect_close(s, s_ref, minus_max(x), std::string(b.name) + " softmax n=" + std::to_string(n));
      b.silu_mul(gate.data(), m.data(), n);
      silu_mul_ref(gate.data(), m_ref.data(), n);
      expect_close(m, m_ref, as_double(gate), std::string(b.name) + " silu_mul n=" + std::to_string(n));
    }
}

TEST(Activations, ExtremesUnderflowAndSaturateCleanly) {
  for (const Build& b : runnable_builds()) {
    // exp(−200) underflows to exactly 0; the maximum gets all the mass.
    std::vector<float> x = {0.0f, -200.0f, -1000.0f, -88.0f};
    b.softmax(x.data(), 4);
    EXPECT_EQ(x[0], 1.0f) << b.name;
    EXPECT_EQ(x[1], 0.0f) << b.name;
    EXPECT_EQ(x[2], 0.0f) << b.name;
    EXPECT_GE(x[3], 0.0f) << b.name;
    // silu(−200) = −200 / (1 + e^200): exp overflows to +inf, the product is −0, not NaN.
    const std::vector<float> gate = {-200.0f, 200.0f, 0.0f};
    std::vector<float> y = {1.0f, 1.0f, 1.0f};
    b.silu_mul(gate.data(), y.data(), 3);
    EXPECT_EQ(y[0], 0.0f) << b.name;
    EXPECT_EQ(y[1], 200.0f) << b.name;
    EXPECT_EQ(y[2], 0.0f) << b.name;
  }
}

// ulps between two finite floats of the same sign (or both zero).
int64_t ulps_apart(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  return std::abs(int64_t(ia) - int64_t(ib));
}

TEST(Activations, ExpNearestIsTheNearestFloatToTheTrueValue) {
  // A million arguments over the range where e^x is a normal or subnormal
  // float, and the edges: the float next to libm's double exp, and glibc's
  // own expf, are the same but in a rare last bit.
  std::vector<float> x = uniform(1 << 20, -105.0f, 88.7f, 11);
  const std::vector<float> edges = {0.0f, -0.0f, 1.0f, -1.0f, 88.72f, 88.73f, 100.0f, -87.33f, -103.9f,
                                    -104.0f, -200.0f, 1e-30f, -1e-30f, INFINITY, -INFINITY};
  x.insert(x.end(), edges.begin(), edges.end());
  std::vector<float> ref(x.size());
  exp_nearest_ref(x.data(), ref.data(), int64_t(x.size()));
  int64_t off_libm_expf = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double exact = std::exp(double(x[i]));
    if (std::isinf(ref[i])) {
      ASSERT_GT(exact, 3.4028235e38) << x[i];
      continue;
    }
    const double ulp = std::abs(std::nextafter(ref[i], INFINITY) - ref[i]);
    ASSERT_LE(std::abs(ref[i] - exact), 0.5000001 * ulp + 1e-45) << x[i];
    const float expf = std::exp(x[i]);
    ASSERT_LE(ulps_apart(expf, ref[i]), 1) << x[i];
    off_libm_expf += expf != ref[i];
  }
  EXPECT_LT(off_libm_expf, int64_t(x.size() / 1000)) << "libm's expf is not within 0.502 ulp";
  EXPECT_EQ(ref[ref.size() - 2], INFINITY);
  EXPECT_EQ(ref.back(), 0.0f);
  for (const Build& b : runnable_builds()) {
    SCOPED_TRACE(b.name);
    for (int64_t n : {int64_t(x.size()), int64_t(5), int64_t(1)}) {  // whole vectors and tails
      std::vector<float> got(x.size() + 1, -1.0f);
      b.exp_nearest(x.data(), got.data(), n);
      int64_t off = 0;
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_LE(ulps_apart(got[size_t(i)], ref[size_t(i)]), 1) << x[size_t(i)];
        off += got[size_t(i)] != ref[size_t(i)];
      }
      EXPECT_LE(off, n / 100000) << "last-bit differences from the reference";
      EXPECT_EQ(got[size_t(n)], -1.0f) << "wrote past n";
    }
    const float nan = std::nanf("");
    float y = 0;
    b.exp_nearest(&nan, &y, 1);
    EXPECT_TRUE(std::isnan(y));
  }
}

}  // namespace
}  // namespace nibble::kernels
