// The bitsandbytes kernels: every ISA build this CPU runs against the scalar
// reference on ragged shapes, and the 4-bit reference against a plain f32
// product with weights dequantized by the codec.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "kernels/bnb_matmul.h"
#include "kernels/dispatch.h"
#include "quant/bnb_codes.h"

namespace nibble::kernels {
namespace {

using FourBitRows = void (*)(const FourBitMatrixView&, int64_t, int64_t, const float*, int64_t,
                             float*, int64_t);
using Int8Rows = void (*)(const int8_t*, const float*, int64_t, int64_t, int64_t, const int8_t*,
                          const float*, int64_t, float*, int64_t);

struct Build {
  const char* name;
  FourBitRows four;
  Int8Rows eight;
};

std::vector<Build> builds() {
  std::vector<Build> b;
  if (cpu_runs(Isa::avx2)) b.push_back({"avx2", avx2::matmul_4bit_rows, avx2::matmul_int8_rows});
  if (cpu_runs(Isa::avx512))
    b.push_back({"avx512", avx512::matmul_4bit_rows, avx512::matmul_int8_rows});
  return b;
}

struct Shape {
  int64_t rows, cols, n;
};
const Shape kShapes[] = {{1, 64, 1}, {3, 128, 2}, {17, 192, 5}, {33, 64, 9}, {16, 640, 4}, {40, 256, 7}};

TEST(BnbMatmul, FourBitBuildsMatchReference) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (quant::FourBitType type : {quant::FourBitType::nf4, quant::FourBitType::fp4})
    for (const Shape& s : kShapes) {
      std::vector<float> w(size_t(s.rows * s.cols)), x(size_t(s.n * s.cols));
      for (float& v : w) v = normal(rng);
      for (float& v : x) v = normal(rng);
      const quant::FourBitWeight q = quant::quantize_4bit(w.data(), {s.rows, s.cols}, type, true);
      const FourBitMatrixView W{q.packed.data(), q.absmax.data(), q.table.data(), s.rows, s.cols};
      std::vector<float> ref(size_t(s.n * s.rows)), deq(w.size());
      matmul_4bit_ref(W, 0, s.rows, x.data(), s.n, ref.data(), s.rows);
      // Independent oracle: dequantized weights, plain double dot.
      quant::dequantize_4bit(q, deq.data());
      for (int64_t t = 0; t < s.n; ++t)
        for (int64_t r = 0; r < s.rows; ++r) {
          double dot = 0, scale = 0;
          for (int64_t c = 0; c < s.cols; ++c) {
            dot += double(deq[r * s.cols + c]) * x[t * s.cols + c];
            scale += std::fabs(double(deq[r * s.cols + c]) * x[t * s.cols + c]);
          }
          EXPECT_NEAR(ref[t * s.rows + r], dot, 1e-5 * scale);
        }
      for (const Build& b : builds()) {
        std::vector<float> y(ref.size(), NAN);
        b.four(W, 0, s.rows, x.data(), s.n, y.data(), s.rows);
        for (size_t i = 0; i < y.size(); ++i)
          EXPECT_NEAR(y[i], ref[i], 1e-4 * std::max(1.0f, std::fabs(ref[i])))
              << b.name << " " << s.rows << "x" << s.cols << " n " << s.n << " at " << i;
      }
      // The threaded entry point agrees too.
      std::vector<float> y(ref.size());
      matmul_4bit(W, x.data(), s.n, y.data());
      for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], ref[i], 1e-4 * std::max(1.0f, std::fabs(ref[i])));
    }
}

TEST(BnbMatmul, Int8BuildsMatchReference) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> code(-127, 127);
  std::uniform_real_distribution<float> scale(0.01f, 2.0f);
  const Shape shapes[] = {{1, 1, 1}, {5, 31, 3}, {17, 65, 2}, {33, 200, 6}, {16, 512, 1}, {9, 129, 5}};
  for (const Shape& s : shapes) {
    std::vector<int8_t> cb(size_t(s.rows * s.cols)), xq(size_t(s.n * s.cols));
    std::vector<float> scb(size_t(s.rows)), xs(size_t(s.n));
    for (auto& v : cb) v = int8_t(code(rng));
    for (auto& v : xq) v = int8_t(code(rng));
    for (auto& v : scb) v = scale(rng);
    for (auto& v : xs) v = scale(rng);
    std::vector<float> ref(size_t(s.n * s.rows));
    matmul_int8_ref(cb.data(), scb.data(), 0, s.rows, s.cols, xq.data(), xs.data(), s.n, ref.data(), s.rows);
    // The integer sums are exact: check one against a 64-bit sum.
    int64_t exact = 0;
    for (int64_t c = 0; c < s.cols; ++c) exact += int64_t(xq[c]) * cb[c];
    EXPECT_FLOAT_EQ(ref[0], float(exact) * (xs[0] * scb[0] * (1.0f / (127.0f * 127.0f))));
    for (const Build& b : builds()) {
      std::vector<float> y(ref.size(), NAN);
      b.eight(cb.data(), scb.data(), 0, s.rows, s.cols, xq.data(), xs.data(), s.n, y.data(), s.rows);
      for (size_t i = 0; i < y.size(); ++i)
        EXPECT_NEAR(y[i], ref[i], 1e-4 * std::max(1.0f, std::fabs(ref[i]))) << b.name << " " << i;
    }
  }
}

}  // namespace
}  // namespace nibble::kernels
