// Round-to-nearest: the spec's test vectors, codes in range, the error
// bound per weight, and the clipping search never worsening what it
// minimizes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/half.h"
#include "quant/group_params.h"
#include "quant/rtn.h"

namespace nibble::quant {
namespace {

std::vector<float> random_matrix(int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> w(size_t(rows * cols));
  for (auto& v : w) v = normal(rng);
  // A few outliers, as real weights have, so clipping has something to do.
  std::uniform_int_distribution<size_t> at(0, w.size() - 1);
  for (int i = 0; i < int(w.size() / 64); ++i) w[at(rng)] *= 6;
  return w;
}

// specs/gptq.md §4.2.
TEST(Rtn, SpecTestVectors) {
  const std::vector<float> asym = {-1.0f, -0.625f, 0.0f, 0.625f, 1.0f, 2.75f, 1.5f, -0.125f};
  const QuantTensor a = rtn_quantize_tensor(asym.data(), 1, 8, {4, -1, false, false});
  EXPECT_EQ(a.scale(0, 0), 0.25f);
  EXPECT_EQ(a.zero(0, 0), 4.0f);
  EXPECT_EQ(a.codes, (std::vector<uint8_t>{0, 2, 4, 6, 8, 15, 10, 4}));
  EXPECT_EQ(a.dequantize(), (std::vector<float>{-1, -0.5, 0, 0.5, 1, 2.75, 1.5, 0}));

  const std::vector<float> sym = {-1.875f, 1.875f, 0.0f, 0.5f};
  const QuantTensor s = rtn_quantize_tensor(sym.data(), 1, 4, {4, -1, true, false});
  EXPECT_EQ(s.scale(0, 0), 0.25f);
  EXPECT_EQ(s.zero(0, 0), 8.0f);
  EXPECT_EQ(s.codes, (std::vector<uint8_t>{0, 15, 8, 10}));
  EXPECT_EQ(s.dequantize(), (std::vector<float>{-2.0f, 1.75f, 0.0f, 0.5f}));
}

// Every weight lies within half a step of its grid point, except past the
// ends of the grid: by the fp16 rounding of the scale (at most maxq · 2^-11
// steps) and, for symmetric grids, at the lopsided top end.
TEST(Rtn, CodesInRangeAndErrorWithinHalfAStep) {
  std::mt19937 rng(1);
  const int64_t rows = 24, cols = 320;
  const std::vector<float> W = random_matrix(rows, cols, rng);
  for (int bits : {2, 3, 4, 8})
    for (int group : {32, 64, 128, -1})
      for (bool sym : {false, true}) {
        const QuantTensor t = rtn_quantize_tensor(W.data(), rows, cols, {bits, group, sym, false});
        ASSERT_NO_THROW(t.validate());
        const int maxq = (1 << bits) - 1;
        const std::vector<float> What = t.dequantize();
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            const int64_t g = t.group_of(c);
            const float s = t.scale(r, g), z = t.zero(r, g);
            const float w = W[size_t(r * cols + c)], err = std::fabs(What[size_t(r * cols + c)] - w);
            ASSERT_LE(t.codes[size_t(r * cols + c)], maxq);
            const float lo = (0 - z) * s, hi = (float(maxq) - z) * s;
            if (w >= lo && w <= hi) {
              ASSERT_LE(err, 0.5f * s * (1 + 1e-6f)) << bits << " " << group << " " << sym;
            } else {
              ASSERT_LE(err, s * (0.5f + maxq / 2048.0f) * (1 + 1e-6f))
                  << bits << " " << group << " " << sym << " w " << w << " grid [" << lo << ", "
                  << hi << "]";
            }
          }
      }
}

// The symmetric quirk of the reference (§4): a group without negative
// weights keeps min = 0, so the upper half of its range saturates.
TEST(Rtn, SymmetricGroupWithoutNegativesSaturates) {
  const std::vector<float> w = {0.0f, 0.5f, 1.0f, 1.5f};
  const QuantTensor t = rtn_quantize_tensor(w.data(), 1, 4, {4, -1, true, false});
  EXPECT_EQ(t.scale(0, 0), f16_to_f32(f32_to_f16(1.5f / 15)));
  EXPECT_EQ(t.codes[3], 15);  // 8 + 15 clamps
}

double group_error(const float* w, int64_t n, const GroupParams& p, int bits, double norm) {
  const int maxq = (1 << bits) - 1;
  double err = 0;
  for (int64_t j = 0; j < n; ++j) {
    const float d = p.scale * (float(quantize_value(w[j], p, maxq)) - p.zero) - w[j];
    err += norm == 2.0 ? double(d) * d : std::pow(std::fabs(double(d)), norm);
  }
  return err;
}

TEST(Rtn, ClippingNeverIncreasesTheErrorItMinimizes) {
  std::mt19937 rng(2);
  const int64_t rows = 16, cols = 256;
  const std::vector<float> W = random_matrix(rows, cols, rng);
  for (int bits : {2, 3, 4, 8})
    for (int group : {32, 128})
      for (bool sym : {false, true})
        for (double norm : {2.0, 2.4}) {
          RtnOptions o{bits, group, sym, false};
          o.clip_norm = norm;
          const QuantTensor plain = rtn_quantize_tensor(W.data(), rows, cols, o);
          o.clip_search = true;
          const QuantTensor clipped = rtn_quantize_tensor(W.data(), rows, cols, o);
          ASSERT_NO_THROW(clipped.validate());
          int improved = 0;
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t g = 0; g < plain.groups(); ++g) {
              const float* w = W.data() + r * cols + g * group;
              const GroupParams a{plain.scale(r, g), plain.zero(r, g)};
              const GroupParams b{clipped.scale(r, g), clipped.zero(r, g)};
              const double ea = group_error(w, group, a, bits, norm);
              const double eb = group_error(w, group, b, bits, norm);
              ASSERT_LE(eb, ea) << bits << " " << group << " " << sym << " " << norm;
              improved += eb < ea;
            }
          if (bits <= 4) {
            EXPECT_GT(improved, 0) << bits << " " << group << " " << sym;
          }
          // And for the whole matrix, the mean squared error when norm is 2.
          if (norm == 2.0) {
            const std::vector<float> A = plain.dequantize(), B = clipped.dequantize();
            double ea = 0, eb = 0;
            for (size_t i = 0; i < W.size(); ++i) {
              ea += double(A[i] - W[i]) * (A[i] - W[i]);
              eb += double(B[i] - W[i]) * (B[i] - W[i]);
            }
            EXPECT_LE(eb, ea);
          }
        }
}

// The defaults are exactly the reference's mse option, as GPTQ uses it.
TEST(Rtn, DefaultSearchIsTheReferenceMseGrid) {
  std::mt19937 rng(3);
  const std::vector<float> W = random_matrix(8, 128, rng);
  for (int bits : {2, 4})
    for (bool sym : {false, true})
      for (int r = 0; r < 8; ++r) {
        const GroupParams a = fit_group_clipped(W.data() + r * 128, 128, bits, sym);
        const GroupParams b = fit_group_search(W.data() + r * 128, 128, bits, sym, 2.4, 100, 0.8);
        EXPECT_EQ(a.scale, b.scale);
        EXPECT_EQ(a.zero, b.zero);
      }
}

}  // namespace
}  // namespace nibble::quant
