// GgufLinear: a model::Linear over GGUF blocks, forwarding to the GGUF
// kernels, with its type name, honest byte count and bias.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "formats/gguf_blocks.h"
#include "kernels/gguf_matmul.h"
#include "quant/gguf_linear.h"

namespace nibble::quant {
namespace {

using io::GgmlType;

std::vector<uint8_t> quantized(GgmlType type, int64_t rows, int64_t cols,
                               std::vector<float>* dense) {
  std::mt19937 rng(3);
  std::normal_distribution<float> gauss(0.0f, 0.05f);
  const uint64_t row_bytes = formats::gguf_row_bytes(type, cols);
  std::vector<uint8_t> blocks(size_t(row_bytes * rows));
  dense->resize(size_t(rows * cols));
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = gauss(rng);
    formats::quantize_row(type, row.data(), blocks.data() + r * row_bytes, cols);
    formats::dequantize_row(type, blocks.data() + r * row_bytes, dense->data() + r * cols, cols);
  }
  return blocks;
}

TEST(GgufLinear, ForwardsThroughTheKernelWithBias) {
  const int64_t rows = 40, cols = 512, n = 3;
  for (GgmlType type : {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
    SCOPED_TRACE(io::ggml_type_name(type));
    std::vector<float> dense;
    const std::vector<uint8_t> blocks = quantized(type, rows, cols, &dense);
    GgufLinear linear(type, blocks.data(), rows, cols);
    EXPECT_EQ(linear.in_features(), cols);
    EXPECT_EQ(linear.out_features(), rows);
    EXPECT_EQ(linear.format(), io::ggml_type_name(type));
    EXPECT_EQ(linear.weight_bytes(), linear.packed().bytes());
    // At least the GGUF bytes, at most 3% more plus the padding rows (40 -> 48).
    const double gguf_bytes = double(blocks.size());
    EXPECT_GE(double(linear.weight_bytes()), gguf_bytes);
    EXPECT_LE(double(linear.weight_bytes()), gguf_bytes * 48.0 / 40.0 * 1.03 + 64);

    std::vector<float> bias(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) bias[size_t(r)] = 0.1f * float(r);
    linear.set_bias(bias);
    std::mt19937 rng(4);
    std::normal_distribution<float> gauss(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n * cols)), y(static_cast<size_t>(n * rows)), plain(y.size());
    for (float& v : x) v = gauss(rng);
    linear.forward(x.data(), n, y.data());
    kernels::gguf_matmul(linear.packed().view(), x.data(), n, plain.data());
    for (int64_t t = 0; t < n; ++t)
      for (int64_t r = 0; r < rows; ++r) {
        const size_t i = size_t(t * rows + r);
        EXPECT_FLOAT_EQ(y[i], plain[i] + bias[size_t(r)]);
        double exact = bias[size_t(r)];
        for (int64_t c = 0; c < cols; ++c) exact += double(x[size_t(t * cols + c)]) * dense[size_t(r * cols + c)];
        EXPECT_NEAR(y[i], exact, 0.05) << "token " << t << " row " << r;  // |y| ~ 1; int8 activations
      }
  }
}

TEST(GgufLinear, RejectsTypesWithoutKernelAndBadShapes) {
  std::vector<uint8_t> bytes(4096);
  EXPECT_FALSE(gguf_linear_supports(GgmlType::Q3_K));
  EXPECT_TRUE(gguf_linear_supports(GgmlType::Q6_K));
  try {
    GgufLinear linear(GgmlType::Q3_K, bytes.data(), 4, 256, "blk.0.ffn_down.weight");
    FAIL() << "Q3_K has no kernel";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.0.ffn_down.weight"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Q3_K"), std::string::npos) << e.what();
  }
  EXPECT_THROW(GgufLinear(GgmlType::Q4_K, bytes.data(), 4, 100), Error);
  EXPECT_THROW(GgufLinear(GgmlType::Q8_0, nullptr, 4, 64), Error);
}

}  // namespace
}  // namespace nibble::quant
