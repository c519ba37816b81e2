// GGUF block kernels. Three oracles, from the inside out:
//   1. the scalar reference against the plain product of dequantized weights
//      (formats::dequantize_row) and dequantized int8 activations, in double:
//      checks the packing and the integer bookkeeping (offsets, mins, scales);
//   2. every ISA build this CPU runs against the scalar reference (1e-4
//      relative), on ragged rows and n = 1 .. 9 and 17 tokens, and the SIMD
//      activation quantizers against the scalar one, bit for bit;
//   3. the threaded entry point against f32 X . dequant(W)^T: the only
//      difference left is the int8 rounding of the activations.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "core/error.h"
#include "core/parallel.h"
#include "formats/gguf_blocks.h"
#include "kernels/dispatch.h"
#include "kernels/gguf_matmul.h"

namespace nibble::kernels {
namespace {

using io::GgmlType;

const GgufKernelType kTypes[] = {GgufKernelType::Q4_0, GgufKernelType::Q8_0, GgufKernelType::Q4_K,
                                 GgufKernelType::Q5_K, GgufKernelType::Q6_K};

struct Weights {
  std::vector<uint8_t> blocks;  // GGUF rows
  std::vector<float> dense;     // their dequantized values
};

// Gaussian rows with a different scale per row (and an offset on some), quantized.
Weights random_weights(GgufKernelType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  const auto gtype = GgmlType(uint32_t(type));
  const uint64_t row_bytes = formats::gguf_row_bytes(gtype, cols);
  Weights w{std::vector<uint8_t>(size_t(row_bytes * rows)), std::vector<float>(size_t(rows * cols))};
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    const float scale = 0.02f * float(1 + r % 5), offset = r % 3 == 0 ? 0.01f : 0.0f;
    for (float& v : row) v = scale * gauss(rng) + offset;
    formats::quantize_row(gtype, row.data(), w.blocks.data() + r * row_bytes, cols);
    formats::dequantize_row(gtype, w.blocks.data() + r * row_bytes, w.dense.data() + r * cols, cols);
  }
  return w;
}

std::vector<float> random_input(int64_t n, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n * cols));
  for (float& v : x) v = gauss(rng);
  for (int64_t t = 0; t < n; ++t) x[size_t(t * cols + 5 % cols)] = 6.0f;  // an outlier channel
  return x;
}

struct QuantizedInput {
  std::vector<int8_t> q;
  std::vector<float> d;
  std::vector<int16_t> sum16, sum32;
  GgufActivations view;
};

QuantizedInput quantize_input(GgufQuantizeFn fn, const std::vector<float>& x, int64_t n,
                              int64_t cols, int64_t block) {
  const GgufActivationSizes s = gguf_activation_sizes(n, cols, block);
  QuantizedInput in{std::vector<int8_t>(size_t(s.q)), std::vector<float>(size_t(s.d)),
                    std::vector<int16_t>(size_t(s.sum16)), std::vector<int16_t>(size_t(s.sum32)), {}};
  fn(x.data(), 0, n, cols, block, in.q.data(), in.d.data(), in.sum16.data(), in.sum32.data());
  in.view = {n, cols, block, in.q.data(), in.d.data(), in.sum16.data(), in.sum32.data()};
  return in;
}

// y (n x rows, from the reference kernel) against the product, in double,
// of the dequantized weights and the dequantized activations in.
void expect_product_of_dequantized(const std::vector<float>& y, const Weights& w,
                                   const QuantizedInput& in, int64_t rows) {
  const int64_t n = in.view.n, cols = in.view.cols, block = in.view.block;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < rows; ++r) {
      double expect = 0, magnitude = 0;
      for (int64_t c = 0; c < cols; ++c) {
        const double a = double(in.d[size_t(t * (cols / block) + c / block)]) * in.q[size_t(t * cols + c)];
        expect += double(w.dense[size_t(r * cols + c)]) * a;
        magnitude += std::fabs(double(w.dense[size_t(r * cols + c)]) * a);
      }
      ASSERT_NEAR(y[size_t(t * rows + r)], expect, 1e-5 * magnitude) << "row " << r << " token " << t;
    }
}

double rms(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  return std::sqrt(s / double(v.size()));
}

struct Build {
  Isa isa;
  GgufRowsFn rows;
  GgufQuantizeFn quantize;
};

std::vector<Build> runnable_builds() {
  std::vector<Build> builds;
  if (cpu_runs(Isa::avx2))
    builds.push_back({Isa::avx2, avx2::gguf_matmul_rows, avx2::gguf_quantize_activations});
  if (cpu_runs(Isa::avx512))
    builds.push_back({Isa::avx512, avx512::gguf_matmul_rows, avx512::gguf_quantize_activations});
  return builds;
}

// ---------------------------------------------------------------- activations

TEST(GgufMatmul, ActivationQuantizersAgreeBitForBit) {
  const int64_t n = 3, cols = 512;
  std::vector<float> x = random_input(n, cols, 1);
  for (int i = 0; i < 32; ++i) x[size_t(64 + i)] = 0.0f;                  // an all-zero block
  for (int i = 0; i < 32; ++i) x[size_t(128 + i)] = float(i - 16) * 0.5f;  // exact .5 ties
  x[300] = std::nanf("");
  x[700] = INFINITY;
  for (int64_t block : {32, 256}) {
    const QuantizedInput ref = quantize_input(gguf_quantize_activations_ref, x, n, cols, block);
    for (int i = 0; i < 32; ++i) ASSERT_EQ(ref.q[size_t(64 + i)], 0);
    for (const Build& build : runnable_builds()) {
      SCOPED_TRACE(isa_name(build.isa));
      const QuantizedInput got = quantize_input(build.quantize, x, n, cols, block);
      EXPECT_EQ(got.q, ref.q);
      EXPECT_EQ(got.sum16, ref.sum16);
      EXPECT_EQ(got.sum32, ref.sum32);
      ASSERT_EQ(got.d.size(), ref.d.size());
      for (size_t i = 0; i < ref.d.size(); ++i)
        EXPECT_TRUE(got.d[i] == ref.d[i] || (std::isnan(got.d[i]) && std::isnan(ref.d[i]))) << i;
    }
  }
}

TEST(GgufMatmul, ActivationRoundingIsHalfToEven) {
  // amax 127 makes the scale exactly 1: x = 2.5 -> 2, 3.5 -> 4, -2.5 -> -2.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = 3.5f;
  x[3] = -2.5f;
  const QuantizedInput in = quantize_input(gguf_quantize_activations_ref, x, 1, 32, 32);
  EXPECT_EQ(in.d[0], 1.0f);
  EXPECT_EQ(in.q[1], 2);
  EXPECT_EQ(in.q[2], 4);
  EXPECT_EQ(in.q[3], -2);
  EXPECT_EQ(in.sum32[0], 127 + 2 + 4 - 2);
}

TEST(GgufMatmul, ActivationScalesAreLlamaCppsQ8_0AndQ8_K) {
  // amax 1.3125, where amax / 127 = 0x1.52a54ap-7 and 1 / (127 / amax) =
  // 0x1.52a54cp-7 (one ulp apart). Q8_0 keeps the first as fp16,
  // 0x1.52cp-7; Q8_K keeps the second. The codes are equal.
  std::vector<float> x(256, 0.25f);
  x[0] = -1.3125f;
  const QuantizedInput q8_0 = quantize_input(gguf_quantize_activations_ref, x, 1, 256, 32);
  const QuantizedInput q8_k = quantize_input(gguf_quantize_activations_ref, x, 1, 256, 256);
  EXPECT_EQ(q8_0.d[0], 0x1.52cp-7f);
  EXPECT_EQ(q8_k.d[0], 0x1.52a54cp-7f);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(q8_k.q[size_t(i)], q8_0.q[size_t(i)]) << i;
  EXPECT_EQ(q8_0.q[0], -127);
  EXPECT_EQ(q8_0.q[1], 24);  // 0.25 * 127 / 1.3125 = 24.19
}

// ---------------------------------------------------------------- 1. reference

TEST(GgufMatmul, ReferenceIsTheProductOfDequantizedOperands) {
  const int64_t rows = 37, n = 3;
  for (GgufKernelType type : kTypes) {
    SCOPED_TRACE(gguf_kernel_type_name(type));
    // Q4_0 / Q8_0: an odd block count, whose last pair is half empty.
    const int64_t cols = gguf_kernel_block_size(type) == 32 ? 544 : 512;
    const Weights w = random_weights(type, rows, cols, 7);
    const GgufPackedMatrix packed = GgufPackedMatrix::pack(type, w.blocks.data(), rows, cols);
    const int64_t block = gguf_kernel_block_size(type);
    const std::vector<float> x = random_input(n, cols, 8);
    const QuantizedInput in = quantize_input(gguf_quantize_activations_ref, x, n, cols, block);
    std::vector<float> y(static_cast<size_t>(n * rows));
    gguf_matmul_ref(packed.view(), in.view, 0, rows, y.data(), rows);
    ASSERT_NO_FATAL_FAILURE(expect_product_of_dequantized(y, w, in, rows));
  }
}

// Q4_K / Q5_K blocks of random bytes (every scale and min bit pattern; d
// and dmin set to 2^-8 so products stay finite): the packed 6-bit codes
// must come back exactly, in the reference and in every SIMD build.
TEST(GgufMatmul, KQuantScaleAndMinBitsSurvivePacking) {
  const int64_t rows = 48, cols = 512, n = 2;
  for (GgufKernelType type : {GgufKernelType::Q4_K, GgufKernelType::Q5_K}) {
    SCOPED_TRACE(gguf_kernel_type_name(type));
    const auto gtype = GgmlType(uint32_t(type));
    const size_t block_bytes = gguf_kernel_type_size(type);
    Weights w{std::vector<uint8_t>(size_t(formats::gguf_row_bytes(gtype, cols) * rows)),
              std::vector<float>(size_t(rows * cols))};
    std::mt19937 rng(5);
    for (uint8_t& b : w.blocks) b = uint8_t(rng());
    for (size_t off = 0; off < w.blocks.size(); off += block_bytes) {
      const uint16_t h = 0x1C00;  // f16 2^-8, little-endian d then dmin
      std::memcpy(&w.blocks[off], &h, 2);
      std::memcpy(&w.blocks[off + 2], &h, 2);
    }
    for (int64_t r = 0; r < rows; ++r)
      formats::dequantize_row(gtype, w.blocks.data() + size_t(r * cols / 256) * block_bytes,
                              w.dense.data() + r * cols, cols);
    const GgufPackedMatrix packed = GgufPackedMatrix::pack(type, w.blocks.data(), rows, cols);
    const std::vector<float> x = random_input(n, cols, 6);
    const QuantizedInput in = quantize_input(gguf_quantize_activations_ref, x, n, cols, 256);
    std::vector<float> ref(static_cast<size_t>(n * rows));
    gguf_matmul_ref(packed.view(), in.view, 0, rows, ref.data(), rows);
    ASSERT_NO_FATAL_FAILURE(expect_product_of_dequantized(ref, w, in, rows));
    const double scale = rms(ref);
    for (const Build& build : runnable_builds())
      for (int64_t tokens : {int64_t(1), n}) {  // decode's and prefill's kernels
        GgufActivations first = in.view;
        first.n = tokens;
        std::vector<float> got(static_cast<size_t>(tokens * rows), NAN);
        build.rows(packed.view(), first, 0, rows, got.data(), rows);
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], ref[i], 1e-4 * (std::fabs(ref[i]) + scale)) << isa_name(build.isa) << " " << i;
      }
  }
}

// ---------------------------------------------------------------- 2. SIMD vs reference

TEST(GgufMatmul, EveryIsaBuildMatchesTheReference) {
  const std::vector<Build> builds = runnable_builds();
  if (builds.empty()) GTEST_SKIP() << "no SIMD build runs on this CPU";
  const int64_t kRows[] = {1, 16, 37, 80, 112};  // 1, 3, 5, 7 panels
  const int64_t kTokens[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 17};
  for (GgufKernelType type : kTypes) {
    const int64_t block = gguf_kernel_block_size(type);
    for (int64_t cols : {int64_t(256), int64_t(768), block == 32 ? int64_t(96) : int64_t(1024)}) {
      for (int64_t rows : kRows) {
        const Weights w = random_weights(type, rows, cols, uint32_t(rows * 31 + cols));
        const GgufPackedMatrix packed = GgufPackedMatrix::pack(type, w.blocks.data(), rows, cols);
        for (int64_t n : kTokens) {
          const std::vector<float> x = random_input(n, cols, uint32_t(n));
          const QuantizedInput in = quantize_input(gguf_quantize_activations_ref, x, n, cols, block);
          std::vector<float> ref(static_cast<size_t>(n * rows));
          gguf_matmul_ref(packed.view(), in.view, 0, rows, ref.data(), rows);
          const double scale = rms(ref);
          for (const Build& build : builds) {
            std::vector<float> got(ref.size(), NAN);
            build.rows(packed.view(), in.view, 0, rows, got.data(), rows);
            for (size_t i = 0; i < ref.size(); ++i)
              ASSERT_NEAR(got[i], ref[i], 1e-4 * (std::fabs(ref[i]) + scale))
                  << gguf_kernel_type_name(type) << " " << isa_name(build.isa) << " rows " << rows
                  << " cols " << cols << " n " << n << " at token " << i / size_t(rows) << " row "
                  << i % size_t(rows);
          }
        }
      }
    }
  }
}

// Row ranges that start mid-matrix (as threads get them) write only their rows.
// Decode (n = 1) takes several panels at a time, prefill one.
TEST(GgufMatmul, RowRangesWriteOnlyTheirRows) {
  const int64_t rows = 64, cols = 256;
  for (GgufKernelType type : kTypes) {
    for (int64_t n : {1, 2}) {
      const Weights w = random_weights(type, rows, cols, 3);
      const GgufPackedMatrix packed = GgufPackedMatrix::pack(type, w.blocks.data(), rows, cols);
      const std::vector<float> x = random_input(n, cols, 4);
      const QuantizedInput in =
          quantize_input(gguf_quantize_activations_ref, x, n, cols, gguf_kernel_block_size(type));
      std::vector<GgufRowsFn> fns = {gguf_matmul_ref};
      for (const Build& b : runnable_builds()) fns.push_back(b.rows);
      for (GgufRowsFn fn : fns) {
        std::vector<float> y(static_cast<size_t>(n * rows), -7.0f);
        fn(packed.view(), in.view, 16, 37, y.data(), rows);
        for (int64_t t = 0; t < n; ++t)
          for (int64_t r = 0; r < rows; ++r)
            EXPECT_EQ(y[size_t(t * rows + r)] == -7.0f, r < 16 || r >= 37) << r;
      }
    }
  }
}

// ---------------------------------------------------------------- 3. against f32

// Error of the whole pipeline against X . dequant(W)^T in double, all of it
// from rounding the activations to int8 (one outlier channel of 6 sigma per
// token, as LLM activations have). Measured RMS error / RMS(Y): Q4_0, Q8_0
// (a scale per 32 activations) 0.51-0.55%; Q4_K, Q5_K, Q6_K (per 256)
// 0.78-0.81%; largest single error / RMS(Y) 1.5-2.8% and 2.9-4.5%.
TEST(GgufMatmul, MatchesF32ProductOfDequantizedWeights) {
  const int64_t rows = 96, cols = 2048;
  for (GgufKernelType type : kTypes) {
    SCOPED_TRACE(gguf_kernel_type_name(type));
    const Weights w = random_weights(type, rows, cols, 21);
    const GgufPackedMatrix packed = GgufPackedMatrix::pack(type, w.blocks.data(), rows, cols);
    for (int64_t n : {1, 5, 64}) {
      const std::vector<float> x = random_input(n, cols, 22);
      std::vector<float> y(static_cast<size_t>(n * rows)), expect(y.size());
      gguf_matmul(packed.view(), x.data(), n, y.data());
      for (int64_t t = 0; t < n; ++t)
        for (int64_t r = 0; r < rows; ++r) {
          double s = 0;
          for (int64_t c = 0; c < cols; ++c)
            s += double(x[size_t(t * cols + c)]) * double(w.dense[size_t(r * cols + c)]);
          expect[size_t(t * rows + r)] = float(s);
        }
      const double scale = rms(expect);
      double err2 = 0, worst = 0;
      for (size_t i = 0; i < y.size(); ++i) {
        const double e = double(y[i]) - double(expect[i]);
        err2 += e * e;
        worst = std::max(worst, std::fabs(e));
      }
      const double rel_rms = std::sqrt(err2 / double(y.size())) / scale;
      EXPECT_LT(rel_rms, gguf_kernel_block_size(type) == 32 ? 0.0065 : 0.0095) << "n " << n;
      EXPECT_LT(worst / scale, 0.06) << "n " << n;
    }
  }
}

// The threaded entry point splits rows over threads; every split gives the
// same bits (each row's sum never depends on the split).
TEST(GgufMatmul, ThreadCountDoesNotChangeResults) {
  const int64_t rows = 300, cols = 512, n = 4;
  for (GgufKernelType type : kTypes) {
    const Weights w = random_weights(type, rows, cols, 5);
    const GgufPackedMatrix packed = GgufPackedMatrix::pack(type, w.blocks.data(), rows, cols);
    const std::vector<float> x = random_input(n, cols, 6);
    std::vector<float> one(static_cast<size_t>(n * rows)), many(one.size());
    set_num_threads(1);
    gguf_matmul(packed.view(), x.data(), n, one.data());
    set_num_threads(0);
    gguf_matmul(packed.view(), x.data(), n, many.data());
    EXPECT_EQ(one, many) << gguf_kernel_type_name(type);
  }
}

TEST(GgufMatmul, PackingSizesAndErrors) {
  const Weights w = random_weights(GgufKernelType::Q4_0, 20, 96, 1);
  GgufPackedMatrix q40 = GgufPackedMatrix::pack(GgufKernelType::Q4_0, w.blocks.data(), 20, 96);
  // 2 panels of 2 units of two blocks (64 bytes of scales, 2 x 256 of codes);
  // the third block's unit keeps a zero second block.
  EXPECT_EQ(q40.bytes(), 2u * 2u * 576u);
  const Weights k = random_weights(GgufKernelType::Q6_K, 32, 512, 1);
  const GgufPackedMatrix q6 = GgufPackedMatrix::pack(GgufKernelType::Q6_K, k.blocks.data(), 32, 512);
  EXPECT_EQ(q6.bytes(), 2u * 2u * 3392u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(q6.view().data) % 64, 0u);
  EXPECT_THROW(GgufPackedMatrix::pack(GgufKernelType::Q4_K, k.blocks.data(), 4, 100), Error);
  EXPECT_THROW(GgufPackedMatrix::pack(GgufKernelType::Q4_K, k.blocks.data(), 0, 256), Error);
  EXPECT_TRUE(gguf_kernel_supports(12));
  EXPECT_FALSE(gguf_kernel_supports(11));  // Q3_K
  GgufPackedMatrix moved = std::move(q40);
  EXPECT_EQ(moved.bytes(), 2304u);
  EXPECT_EQ(q40.bytes(), 0u);
}

}  // namespace
}  // namespace nibble::kernels
