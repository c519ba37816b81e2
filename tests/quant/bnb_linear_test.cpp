// The LLM.int8 mixed-precision decomposition against a dense f32 product,
// and the 4-bit linear against its dequantized weights.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "quant/bnb_linear.h"

namespace nibble::quant {
namespace {

// max |a - b| / max |b|
double relative_error(const std::vector<float>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(a[i] - b[i]));
    scale = std::max(scale, std::fabs(b[i]));
  }
  return diff / scale;
}

std::vector<double> dense_product(const std::vector<float>& W, int64_t rows, int64_t cols,
                                  const std::vector<float>& X, int64_t n) {
  std::vector<double> Y(size_t(n * rows), 0.0);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) Y[t * rows + r] += double(W[r * cols + c]) * X[t * cols + c];
  return Y;
}

TEST(BnbLinear, Int8OutlierDecompositionEqualsDenseProduct) {
  // Weights on the int8 grid (each row reaches ±127 codes) and non-outlier
  // activations on a grid of 1/32 with max 127/32 < 6, so the int8 part is
  // exact; three columns carry outliers of 8..60 in some tokens. Only a
  // correct decomposition reproduces the f32 product to 1e-3.
  const int64_t rows = 48, cols = 160, n = 6;
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> code(-127, 127);
  std::uniform_real_distribution<float> big(8.0f, 60.0f);
  std::vector<float> W(size_t(rows * cols)), X(size_t(n * cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float scb = 0.05f + 0.01f * float(r);
    for (int64_t c = 0; c < cols; ++c) W[r * cols + c] = float(c == r % cols ? 127 : code(rng)) * (scb / 127.0f);
  }
  for (int64_t t = 0; t < n; ++t) {
    for (int64_t c = 0; c < cols; ++c) X[t * cols + c] = float(code(rng)) / 32.0f;
    X[t * cols + t] = 127.0f / 32.0f;
  }
  const int64_t outlier_cols[3] = {7, 80, 159};
  for (int64_t c : outlier_cols)
    for (int64_t t = 0; t < n; t += 2) X[t * cols + c] = (t % 4 ? -1.0f : 1.0f) * big(rng);

  Int8Weight q = quantize_int8(W.data(), rows, cols);
  std::vector<float> What(W.size());
  dequantize_int8(q, What.data());
  const std::vector<double> expected = dense_product(What, rows, cols, X, n);

  Int8Linear decomposed(q, 6.0f);
  std::vector<float> Y(size_t(n * rows));
  decomposed.forward(X.data(), n, Y.data());
  EXPECT_LT(relative_error(Y, expected), 1e-3);

  // Without the decomposition the outliers set every token's scale: far off.
  Int8Linear plain(q, 0.0f);
  plain.forward(X.data(), n, Y.data());
  EXPECT_GT(relative_error(Y, expected), 5e-3);
}

TEST(BnbLinear, Int8OnGaussianDataIsClose) {
  const int64_t rows = 64, cols = 256, n = 5;
  std::mt19937 rng(2);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> W(size_t(rows * cols)), X(size_t(n * cols));
  for (float& v : W) v = 0.05f * normal(rng);
  for (float& v : X) v = normal(rng);
  X[3] = 20.0f;  // one outlier column
  const Int8Weight q = quantize_int8(W.data(), rows, cols);
  const std::vector<double> expected = dense_product(W, rows, cols, X, n);
  std::vector<float> Y(size_t(n * rows));
  Int8Linear(q).forward(X.data(), n, Y.data());
  EXPECT_LT(relative_error(Y, expected), 0.03);
}

TEST(BnbLinear, FourBitLinearIsItsDequantizedProduct) {
  const int64_t rows = 24, cols = 192, n = 3;
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> W(size_t(rows * cols)), X(size_t(n * cols));
  for (float& v : W) v = normal(rng);
  for (float& v : X) v = normal(rng);
  for (FourBitType type : {FourBitType::nf4, FourBitType::fp4}) {
    FourBitWeight q = quantize_4bit(W.data(), {rows, cols}, type, false);
    std::vector<float> What(W.size());
    dequantize_4bit(q, What.data());
    FourBitLinear linear(q);
    EXPECT_EQ(linear.format(), four_bit_name(type));
    std::vector<float> Y(size_t(n * rows));
    linear.forward(X.data(), n, Y.data());
    EXPECT_LT(relative_error(Y, dense_product(What, rows, cols, X, n)), 1e-5);
  }
  const std::vector<float> odd(10 * 40, 1.0f);
  EXPECT_THROW(FourBitLinear(quantize_4bit(odd.data(), {10, 40}, FourBitType::nf4, false)), Error);
}

}  // namespace
}  // namespace nibble::quant
