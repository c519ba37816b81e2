// The canonical QuantTensor: validation, exact dequantization, storage
// accounting, format names, the partial-last-group policy, conversion from
// quantizer output; and QuantizedLinear against the kernels' references.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/qmatmul.h"
#include "quant/quant_tensor.h"
#include "quant/quantized_linear.h"
#include "quant/rtn.h"

namespace nibble::quant {
namespace {

std::vector<float> random_matrix(int64_t rows, int64_t cols, std::mt19937& rng, float sd = 0.05f) {
  std::normal_distribution<float> normal(0.0f, sd);
  std::vector<float> w(size_t(rows * cols));
  for (auto& v : w) v = normal(rng);
  return w;
}

QuantTensor small_tensor() {
  std::mt19937 rng(1);
  const std::vector<float> W = random_matrix(4, 64, rng);
  return rtn_quantize_tensor(W.data(), 4, 64, {4, 32, false, false});
}

TEST(QuantTensor, ValidateAcceptsQuantizerOutputAndRejectsBadFields) {
  const QuantTensor good = small_tensor();
  EXPECT_NO_THROW(good.validate());
  auto expect_bad = [&](auto mutate, const char* needle) {
    QuantTensor t = good;
    mutate(t);
    try {
      t.validate("model.layers.0.mlp.up_proj");
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.up_proj"), std::string::npos);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_bad([](QuantTensor& t) { t.bits = 5; }, "bits");
  expect_bad([](QuantTensor& t) { t.group_size = 0; }, "group size");
  expect_bad([](QuantTensor& t) { t.group_size = 65; }, "group size");
  expect_bad([](QuantTensor& t) { t.codes.pop_back(); }, "codes");
  expect_bad([](QuantTensor& t) { t.codes[10] = 16; }, "does not fit");
  expect_bad([](QuantTensor& t) { t.scales.pop_back(); }, "scales");
  expect_bad([](QuantTensor& t) { t.g_idx.assign(63, 0); }, "g_idx");
  expect_bad([](QuantTensor& t) { t.g_idx.assign(64, 2); }, "g_idx[0] = 2");
  expect_bad([](QuantTensor& t) { t.scales[3] = 0x7c00; }, "finite");  // +inf
  expect_bad([](QuantTensor& t) { t.symmetric = true; }, "symmetric");
  expect_bad([](QuantTensor& t) { t.rows = 0; t.codes.clear(); t.scales.clear(); t.zeros.clear(); },
             "empty");
}

TEST(QuantTensor, DequantizesExactlyAsQMinusZTimesS) {
  QuantTensor t;
  t.rows = 2;
  t.cols = 4;
  t.bits = 4;
  t.group_size = 2;
  t.codes = {0, 15, 7, 8, 3, 4, 5, 6};
  t.scales = {f32_to_f16(0.25f), f32_to_f16(0.5f), f32_to_f16(1.0f), f32_to_f16(0.125f)};
  t.zeros = {f32_to_f16(8), f32_to_f16(7), f32_to_f16(0), f32_to_f16(15)};
  t.validate();
  const std::vector<float> want = {-2.0f, 1.75f, 0.0f, 0.5f, 3.0f, 4.0f, -1.25f, -1.125f};
  EXPECT_EQ(t.dequantize(), want);
  // Act-order: columns 0 and 3 in group 1, 1 and 2 in group 0.
  t.g_idx = {1, 0, 0, 1};
  t.validate();
  const std::vector<float> want_act = {-3.5f, 1.75f, -0.25f, 0.5f, -1.5f, 4.0f, 5.0f, -1.125f};
  EXPECT_EQ(t.dequantize(), want_act);
}

TEST(QuantTensor, BitsPerWeightAndFormat) {
  std::mt19937 rng(2);
  const std::vector<float> W = random_matrix(8, 256, rng);
  QuantTensor asym = rtn_quantize_tensor(W.data(), 8, 256, {4, 128, false, false});
  EXPECT_DOUBLE_EQ(asym.bits_per_weight(), 4.25);
  EXPECT_EQ(asym.format(), "w4g128");
  QuantTensor sym = rtn_quantize_tensor(W.data(), 8, 256, {4, 128, true, false});
  EXPECT_DOUBLE_EQ(sym.bits_per_weight(), 4.125);
  EXPECT_EQ(sym.format(), "w4g128-sym");
  QuantTensor w8 = rtn_quantize_tensor(W.data(), 8, 256, {8, -1, false, false});
  EXPECT_EQ(w8.group_size, 256);
  EXPECT_EQ(w8.format(), "w8 per-channel");
  EXPECT_DOUBLE_EQ(w8.bits_per_weight(), 8 + 32.0 / 256);
  QuantTensor w8s = rtn_quantize_tensor(W.data(), 8, 256, {8, 1000, true, false});
  EXPECT_EQ(w8s.format(), "w8-sym per-channel");
  asym.g_idx.assign(256, 0);
  asym.g_idx[200] = 1;
  EXPECT_EQ(asym.format(), "w4g128 act-order");
  EXPECT_DOUBLE_EQ(asym.bits_per_weight(), 4.25 + 32.0 / 8);
}

TEST(QuantTensor, ConversionKeepsOnlyANonTrivialGIdx) {
  std::mt19937 rng(3);
  const std::vector<float> W = random_matrix(4, 96, rng);
  GptqOutput out = rtn_quantize(W.data(), 4, 96, {3, 32, false, false});
  const QuantTensor plain = to_quant_tensor(out, 3, 32, false);
  EXPECT_TRUE(plain.g_idx.empty());
  EXPECT_NO_THROW(plain.validate());
  for (size_t i = 0; i < out.scales.size(); ++i) {
    EXPECT_EQ(plain.scale(int64_t(i) / 3, int64_t(i) % 3), out.scales[i]);
    EXPECT_EQ(plain.zero(int64_t(i) / 3, int64_t(i) % 3), out.zeros[i]);
  }
  std::swap(out.g_idx[0], out.g_idx[95]);
  const QuantTensor act = to_quant_tensor(out, 3, 32, false);
  EXPECT_EQ(act.g_idx, out.g_idx);
  EXPECT_THROW(to_quant_tensor(out, 3, 64, false), Error);  // 2 groups, not 3
}

// cols % group_size != 0: the last group is partial and quantized like the
// others, through the kernels as well.
TEST(QuantTensor, PartialLastGroup) {
  std::mt19937 rng(4);
  const int64_t rows = 20, cols = 100;
  const std::vector<float> W = random_matrix(rows, cols, rng);
  const QuantTensor t = rtn_quantize_tensor(W.data(), rows, cols, {4, 32, false, false});
  ASSERT_EQ(t.groups(), 4);  // 32 + 32 + 32 + 4
  t.validate();
  const std::vector<float> What = t.dequantize();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 96; c < cols; ++c) {
      const float s = t.scale(r, 3);
      EXPECT_LE(std::fabs(What[size_t(r * cols + c)] - W[size_t(r * cols + c)]),
                s * (0.5f + 15.0f / 2048) + 1e-7f);
    }
  // The fourth group's grid is fitted to its own 4 columns only.
  for (int64_t r = 0; r < rows; ++r) {
    float lo = 0, hi = 0;
    for (int64_t c = 96; c < cols; ++c) {
      lo = std::min(lo, W[size_t(r * cols + c)]);
      hi = std::max(hi, W[size_t(r * cols + c)]);
    }
    EXPECT_NEAR(t.scale(r, 3), (hi - lo) / 15, (hi - lo) / 15 * 1e-3);
  }
  const QuantizedLinear linear(t);
  std::vector<float> X(2 * cols), Y(2 * rows), Yref(2 * rows);
  std::normal_distribution<float> normal(0, 1);
  for (auto& v : X) v = normal(rng);
  linear.forward(X.data(), 2, Y.data());
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t r = 0; r < rows; ++r) {
      double y = 0, mag = 0;
      for (int64_t c = 0; c < cols; ++c) {
        y += double(What[size_t(r * cols + c)]) * X[size_t(i * cols + c)];
        mag += std::fabs(double(What[size_t(r * cols + c)]) * X[size_t(i * cols + c)]);
      }
      EXPECT_NEAR(Y[size_t(i * rows + r)], y, 0.02 * mag);
    }
}

// QuantizedLinear (through dispatch) against both references.
TEST(QuantizedLinear, EqualsTheReferences) {
  std::mt19937 rng(5);
  for (int bits : {2, 3, 4, 8})
    for (bool act : {false, true}) {
      const int64_t rows = 72, cols = 384;
      const std::vector<float> W = random_matrix(rows, cols, rng);
      QuantTensor t = rtn_quantize_tensor(W.data(), rows, cols, {bits, 128, bits == 8, false});
      if (act) {  // a column order as GPTQ's desc_act produces
        std::vector<int32_t> perm(cols);
        for (int64_t c = 0; c < cols; ++c) perm[size_t(c)] = int32_t(c);
        std::shuffle(perm.begin(), perm.end(), rng);
        t.g_idx.resize(size_t(cols));
        for (int64_t p = 0; p < cols; ++p) t.g_idx[size_t(perm[size_t(p)])] = int32_t(p / 128);
      }
      const QuantizedLinear linear(t, "test");
      EXPECT_EQ(linear.in_features(), cols);
      EXPECT_EQ(linear.out_features(), rows);
      EXPECT_EQ(linear.format(), t.format());
      // Honest size: packed codes plus fp16 scales and zeros (+ column map),
      // rows padded to a multiple of 16.
      const int64_t padded = (rows + 15) / 16 * 16;
      const size_t want_bytes = size_t(padded * cols * bits / 8 + padded * t.groups() * 4) +
                                (act ? size_t(cols) * 4 : 0);
      EXPECT_EQ(linear.weight_bytes(), want_bytes);

      const int64_t n = 4;
      std::vector<float> X(size_t(n * cols));
      std::normal_distribution<float> normal(0, 1);
      for (auto& v : X) v = normal(rng);
      std::vector<float> Y(size_t(n * rows)), Y8(Y.size()), Y32(Y.size());
      linear.forward(X.data(), n, Y.data());

      const kernels::PackedQuantMatrix& packed = linear.packed();
      std::vector<uint8_t> scratch(packed.scratch_bytes(n));
      const kernels::QuantActivationsView a =
          kernels::quantize_activations(packed, X.data(), n, scratch.data(), scratch.size());
      kernels::qmatmul_ref(packed.view(), 0, packed.view().row_blocks, a, Y8.data(), rows);
      kernels::QuantSource s{rows, cols, bits, 128, t.codes.data(), t.scales.data(), t.zeros.data(),
                             t.g_idx.empty() ? nullptr : t.g_idx.data()};
      kernels::qmatmul_dequant_ref(s, X.data(), n, Y32.data());
      const std::vector<float> What = t.dequantize();
      double err2 = 0, ref2 = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t r = 0; r < rows; ++r) {
          double mag = 0;
          for (int64_t c = 0; c < cols; ++c)
            mag += std::fabs(double(What[size_t(r * cols + c)]) * X[size_t(i * cols + c)]);
          const size_t k = size_t(i * rows + r);
          EXPECT_NEAR(Y[k], Y8[k], 1e-4 * mag + 1e-6) << t.format();
          err2 += double(Y[k] - Y32[k]) * (Y[k] - Y32[k]);
          ref2 += double(Y32[k]) * Y32[k];
        }
      EXPECT_LT(std::sqrt(err2 / ref2), 0.01) << t.format();
    }
}

TEST(QuantizedLinear, RejectsAnInvalidTensor) {
  QuantTensor t = small_tensor();
  t.codes[0] = 200;
  EXPECT_THROW(QuantizedLinear(t, "bad"), Error);
}

}  // namespace
}  // namespace nibble::quant
