// GPTQ's lazy-block solver against a naive, unblocked implementation written
// here from specs/gptq.md §3, and the grid fitting against §4.2's vectors.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "quant/gptq.h"
#include "quant/group_params.h"
#include "quant/hessian.h"

namespace nibble::quant {
namespace {

TEST(GroupParams, SpecTestVectorAsymmetric) {
  const float x[8] = {-1.0f, -0.625f, 0.0f, 0.625f, 1.0f, 2.75f, 1.5f, -0.125f};
  const GroupParams p = fit_group(x, 8, 4, false);
  EXPECT_EQ(p.scale, 0.25f);
  EXPECT_EQ(p.zero, 4.0f);
  const int expected[8] = {0, 2, 4, 6, 8, 15, 10, 4};  // half-to-even: -2.5 -> -2, 2.5 -> 2
  for (int i = 0; i < 8; ++i) EXPECT_EQ(quantize_value(x[i], p, 15), expected[i]) << i;
}

TEST(GroupParams, SpecTestVectorSymmetric) {
  const float x[2] = {-1.875f, 1.875f};
  const GroupParams p = fit_group(x, 2, 4, true);
  EXPECT_EQ(p.scale, 0.25f);
  EXPECT_EQ(p.zero, 8.0f);
  EXPECT_EQ(quantize_value(1.875f, p, 15), 15);  // 7.5 -> 8 -> 16, clamped
  EXPECT_EQ(quantize_value(-1.875f, p, 15), 0);
}

struct Problem {
  int64_t rows, cols;
  std::vector<float> W, H;
};

// Inputs with strongly correlated features (a low-rank mix plus noise), so
// the Hessian is far from diagonal and error compensation matters.
Problem make_problem(int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0, 1);
  Problem p{rows, cols, std::vector<float>(size_t(rows * cols)), {}};
  for (auto& w : p.W) w = n(rng) * 0.05f;
  const int64_t tokens = 4 * cols, rank = 16;
  std::vector<float> mix(size_t(rank * cols)), X(size_t(tokens * cols));
  for (auto& m : mix) m = n(rng);
  for (int64_t t = 0; t < tokens; ++t) {
    float z[16];
    for (float& v : z) v = n(rng);
    for (int64_t c = 0; c < cols; ++c) {
      float v = 0.3f * n(rng) * (1 + float(c % 7));
      for (int k = 0; k < rank; ++k) v += z[k] * mix[size_t(k * cols + c)];
      X[size_t(t * cols + c)] = v;
    }
  }
  for (int64_t c = 0; c < cols; c += 37)  // a few dead inputs
    for (int64_t t = 0; t < tokens; ++t) X[size_t(t * cols + c)] = 0;
  HessianAccumulator acc(cols);
  acc.add(X.data(), tokens, 8);
  p.H = acc.hessian();
  return p;
}

// Column by column, every remaining column updated right away.
GptqOutput naive_gptq(const Problem& pr, const GptqOptions& o) {
  const int64_t rows = pr.rows, cols = pr.cols, g = o.group_size;
  const int maxq = (1 << o.bits) - 1;
  std::vector<float> W = pr.W, H = pr.H;
  for (int64_t j = 0; j < cols; ++j)
    if (H[j * cols + j] == 0) {
      H[j * cols + j] = 1;
      for (int64_t r = 0; r < rows; ++r) W[r * cols + j] = 0;
    }
  std::vector<int64_t> perm(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) perm[j] = j;
  if (o.act_order)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return H[a * cols + a] > H[b * cols + b]; });
  std::vector<float> Wp(W.size()), U(H.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) Wp[r * cols + j] = W[r * cols + perm[j]];
  double mean = 0;
  for (int64_t j = 0; j < cols; ++j) mean += H[perm[j] * cols + perm[j]];
  mean /= double(cols);
  for (int64_t i = 0; i < cols; ++i)
    for (int64_t j = 0; j < cols; ++j) U[i * cols + j] = H[perm[i] * cols + perm[j]];
  for (int64_t j = 0; j < cols; ++j) U[j * cols + j] += float(o.damp * mean);
  EXPECT_TRUE(inverse_cholesky_upper(U, cols));
  GptqOutput out;
  out.codes.assign(size_t(rows * cols), 0);
  std::vector<GroupParams> params(static_cast<size_t>(rows));
  for (int64_t c = 0; c < cols; ++c) {
    if (c % g == 0)
      for (int64_t r = 0; r < rows; ++r) params[r] = fit_group(&Wp[r * cols + c], g, o.bits, o.symmetric);
    for (int64_t r = 0; r < rows; ++r) {
      const float w = Wp[r * cols + c];
      const int q = quantize_value(w, params[r], maxq);
      out.codes[r * cols + perm[c]] = uint8_t(q);
      const float e = (w - params[r].scale * (float(q) - params[r].zero)) / U[c * cols + c];
      for (int64_t j = c; j < cols; ++j) Wp[r * cols + j] -= e * U[c * cols + j];
    }
  }
  return out;
}

void expect_same_codes(const GptqOptions& o, uint32_t seed) {
  const Problem pr = make_problem(48, 512, seed);
  const GptqOutput fast = gptq_quantize(pr.W.data(), pr.rows, pr.cols, pr.H, o);
  const GptqOutput naive = naive_gptq(pr, o);
  int64_t differ = 0;
  for (size_t i = 0; i < fast.codes.size(); ++i) differ += fast.codes[i] != naive.codes[i];
  EXPECT_EQ(differ, 0) << "of " << fast.codes.size() << " codes";
}

TEST(Gptq, LazyBlocksEqualTheNaiveSolver) {
  GptqOptions o;
  o.bits = 4;
  o.group_size = 128;
  expect_same_codes(o, 1);
  o.symmetric = true;
  o.bits = 3;
  expect_same_codes(o, 2);
}

TEST(Gptq, ActOrderEqualsTheNaiveSolver) {
  GptqOptions o;
  o.act_order = true;
  expect_same_codes(o, 3);
}

TEST(Gptq, BeatsRoundToNearestOnTheHessianWeightedError) {
  const Problem pr = make_problem(48, 512, 4);
  GptqOptions o;
  const GptqOutput q = gptq_quantize(pr.W.data(), pr.rows, pr.cols, pr.H, o);
  // Output error tr((W - Q) H (W - Q)ᵀ) for GPTQ and for plain RTN with the same grid.
  auto output_error = [&](const std::vector<float>& D) {
    double e = 0;
    for (int64_t r = 0; r < pr.rows; ++r)
      for (int64_t i = 0; i < pr.cols; ++i)
        for (int64_t j = 0; j < pr.cols; ++j)
          e += double(D[r * pr.cols + i]) * pr.H[i * pr.cols + j] * D[r * pr.cols + j];
    return e;
  };
  std::vector<float> d_gptq(pr.W.size()), d_rtn(pr.W.size());
  for (int64_t r = 0; r < pr.rows; ++r)
    for (int64_t c = 0; c < pr.cols; ++c) {
      const size_t i = size_t(r * pr.cols + c);
      const int t = q.g_idx[c];
      const float s = q.scales[r * q.groups + t], z = q.zeros[r * q.groups + t];
      const float w = pr.H[c * pr.cols + c] == 0 ? 0 : pr.W[i];
      d_gptq[i] = w - s * (float(q.codes[i]) - z);
      const GroupParams p = fit_group(&pr.W[r * pr.cols + c / 128 * 128], 128, 4, false);
      d_rtn[i] = w - p.scale * (float(quantize_value(pr.W[i], p, 15)) - p.zero);
    }
  EXPECT_LT(output_error(d_gptq), 0.8 * output_error(d_rtn));
}

TEST(Gptq, InverseCholeskyFactorsTheInverse) {
  const Problem pr = make_problem(4, 64, 5);
  std::vector<float> H = pr.H;
  for (int64_t j = 0; j < 64; ++j) H[j * 64 + j] += 0.1f;
  std::vector<float> U = H;
  ASSERT_TRUE(inverse_cholesky_upper(U, 64));
  // (Uᵀ U) H = I
  for (int i = 0; i < 64; ++i)
    for (int j = 0; j < 64; ++j) {
      double v = 0;
      for (int k = 0; k < 64; ++k) {
        double hinv = 0;
        for (int m = 0; m <= std::min(i, k); ++m) hinv += double(U[m * 64 + i]) * U[m * 64 + k];
        v += hinv * H[k * 64 + j];
      }
      EXPECT_NEAR(v, i == j ? 1.0 : 0.0, 2e-3) << i << "," << j;
    }
}

TEST(Gptq, RaisesDampWhenCholeskyFails) {
  const int64_t cols = 32;
  std::vector<float> H(size_t(cols * cols), 1.0f);  // rank one: singular
  std::vector<float> W(size_t(8 * cols), 0.1f);
  GptqOptions o;
  o.damp = 0.0;
  o.group_size = 32;
  const GptqOutput out = gptq_quantize(W.data(), 8, cols, H, o);
  EXPECT_GT(out.damp_used, 0.0);
  EXPECT_FALSE(out.warnings.empty());
}

}  // namespace
}  // namespace nibble::quant
