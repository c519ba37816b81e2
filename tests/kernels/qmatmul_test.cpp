// The integer-weight kernels: the runtime layout round-trips the canonical
// weights for every bits x group x sym/asym x act-order; activation
// quantization is bit-identical across ISA builds; every SIMD build (AVX2,
// AVX-VNNI and its EVEX twin, AVX-512) equals the scalar int8 reference on
// ragged shapes; the int8 reference stays within its documented bound of the
// f32 dequantized product; the threaded entry point equals the reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/cpu.h"
#include "core/error.h"
#include "core/half.h"
#include "core/parallel.h"
#include "kernels/dispatch.h"
#include "kernels/qmatmul.h"

namespace nibble::kernels {
namespace {

using RowsFn = void (*)(const QuantMatrixView&, int64_t, int64_t, const QuantActivationsView&,
                        float*, int64_t);
using QuantizeFn = void (*)(const float*, int64_t, int8_t*, float*, int32_t*);

struct IsaBuild {
  const char* name;
  RowsFn rows;
  QuantizeFn quantize;
  bool (*runs)();     // whether this CPU, and NIBBLE_ISA, allow it here
  const char* needs;  // what it takes, for the skip message
};

void PrintTo(const IsaBuild& build, std::ostream* os) { *os << build.name; }

const IsaBuild kBuilds[] = {
    {"avx2", avx2::qmatmul_rows, avx2::quantize_blocks, [] { return cpu_runs(Isa::avx2); },
     "AVX2 + FMA + F16C"},
    {"avxvnni", avxvnni::qmatmul_rows, avxvnni::quantize_blocks, cpu_runs_avxvnni_vex,
     "AVX-VNNI (CPUID.(EAX=7,ECX=1):EAX bit 4), the VEX vpdpbusd"},
    {"avxvnni_evex", avxvnni_evex::qmatmul_rows, avxvnni_evex::quantize_blocks,
     cpu_runs_avxvnni_evex, "AVX-512 VNNI + VL, the EVEX vpdpbusd"},
    {"avx512", avx512::qmatmul_rows, avx512::quantize_blocks, [] { return cpu_runs(Isa::avx512); },
     "AVX-512 F/BW/VL/DQ + VNNI + BF16"},
};

// Canonical weights with random codes, fp16 scales and integer zeros.
struct Canonical {
  int64_t rows, cols, group_size;
  int bits;
  bool symmetric;
  std::vector<uint8_t> codes;
  std::vector<uint16_t> scales, zeros;
  std::vector<int32_t> g_idx;

  int64_t groups() const { return (cols + group_size - 1) / group_size; }

  Canonical(int64_t r, int64_t c, int b, int64_t g, bool sym, bool act_order, std::mt19937& rng)
      : rows(r), cols(c), group_size(g), bits(b), symmetric(sym) {
    const int maxq = (1 << b) - 1;
    std::uniform_int_distribution<int> code(0, maxq);
    std::uniform_real_distribution<float> scale(0.002f, 0.05f);
    codes.resize(size_t(r * c));
    for (auto& q : codes) q = uint8_t(code(rng));
    scales.resize(size_t(r * groups()));
    zeros.resize(scales.size());
    for (size_t i = 0; i < scales.size(); ++i) {
      scales[i] = f32_to_f16(scale(rng));
      zeros[i] = f32_to_f16(sym ? float(1 << (b - 1)) : float(code(rng)));
    }
    if (act_order) {  // GPTQ desc_act: runs of the permuted order form the groups
      std::vector<int32_t> perm(static_cast<size_t>(c));
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng);
      g_idx.resize(size_t(c));
      for (int64_t p = 0; p < c; ++p) g_idx[size_t(perm[size_t(p)])] = int32_t(p / g);
    }
  }

  QuantSource source() const {
    QuantSource s;
    s.rows = rows;
    s.cols = cols;
    s.bits = bits;
    s.group_size = group_size;
    s.codes = codes.data();
    s.scales = scales.data();
    s.zeros = zeros.data();
    s.g_idx = g_idx.empty() ? nullptr : g_idx.data();
    return s;
  }

  float weight(int64_t r, int64_t c) const {
    const int64_t g = g_idx.empty() ? c / group_size : g_idx[size_t(c)];
    return (float(codes[size_t(r * cols + c)]) - f16_to_f32(zeros[size_t(r * groups() + g)])) *
           f16_to_f32(scales[size_t(r * groups() + g)]);
  }
};

std::vector<float> random_activations(int64_t n, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(size_t(n * cols));
  for (auto& v : x) v = normal(rng);
  if (cols > 3) x[size_t(cols / 3)] = 0;  // an exact zero
  return x;
}

// Quantized activations of X for W, in their own buffer.
struct Activations {
  std::vector<uint8_t> buffer;
  QuantActivationsView view;
  Activations(const PackedQuantMatrix& W, const std::vector<float>& X, int64_t n)
      : buffer(W.scratch_bytes(n)) {
    view = quantize_activations(W, X.data(), n, buffer.data(), buffer.size());
  }
};

// sum_c (|q| + |z|) |s| |x|: the size of the terms each output sums.
std::vector<float> magnitudes(const Canonical& w, const std::vector<float>& X, int64_t n) {
  std::vector<float> m(size_t(n * w.rows), 0.0f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < w.rows; ++r) {
      double acc = 0;
      for (int64_t c = 0; c < w.cols; ++c) {
        const int64_t g = w.g_idx.empty() ? c / w.group_size : w.g_idx[size_t(c)];
        acc += (double(w.codes[size_t(r * w.cols + c)]) +
                std::fabs(f16_to_f32(w.zeros[size_t(r * w.groups() + g)]))) *
               std::fabs(f16_to_f32(w.scales[size_t(r * w.groups() + g)])) *
               std::fabs(X[size_t(t * w.cols + c)]);
      }
      m[size_t(t * w.rows + r)] = float(acc);
    }
  return m;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                  const std::vector<float>& scale, double rel, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int reported = 0;
  for (size_t i = 0; i < got.size() && reported < 5; ++i) {
    const double tolerance = rel * scale[i] + 1e-30;
    if (!(std::fabs(double(got[i]) - double(want[i])) <= tolerance)) {
      ADD_FAILURE() << what << ": output " << i << " is " << got[i] << ", expected " << want[i]
                    << " (tolerance " << tolerance << ")";
      ++reported;
    }
  }
}

std::string describe(const Canonical& w, int64_t n) {
  return cat("w", w.bits, " g", w.group_size, w.symmetric ? " sym" : " asym",
             w.g_idx.empty() ? "" : " act-order", " ", w.rows, "x", w.cols, " n=", n);
}

const int kBits[] = {2, 3, 4, 8};

TEST(QMatmulPack, RoundTripsEveryConfiguration) {
  std::mt19937 rng(1);
  for (int bits : kBits)
    for (int64_t cols : {256, 320, 100})
      for (int64_t group : {int64_t(32), int64_t(64), int64_t(128), cols})
        for (bool sym : {false, true})
          for (bool act : {false, true}) {
            const int64_t rows = 37;  // two full blocks of 16 and a ragged one
            Canonical w(rows, cols, bits, group, sym, act, rng);
            const PackedQuantMatrix packed(w.source());
            std::vector<uint8_t> codes(w.codes.size(), 0xff);
            std::vector<uint16_t> scales(w.scales.size()), zeros(w.zeros.size());
            packed.unpack(codes.data(), scales.data(), zeros.data());
            const std::string what = describe(w, 0);
            EXPECT_EQ(codes, w.codes) << what;
            EXPECT_EQ(scales, w.scales) << what;
            EXPECT_EQ(zeros, w.zeros) << what;
            EXPECT_EQ(packed.k_pad() % kQColBlock, 0) << what;
            // In place exactly when the order is the identity (no act-order, or
            // one group) and every group but the last is a whole number of blocks.
            const bool one_group = group >= cols;
            const bool in_place = (!act || one_group) && (group % kQColBlock == 0 || one_group);
            EXPECT_EQ(packed.col_index().empty(), in_place) << what;
            // bits + 32 / group bits per weight, up to padding.
            const double ideal = double(rows * cols) * bits / 8 + double(rows * w.groups()) * 4;
            EXPECT_GE(double(packed.bytes()), ideal) << what;
            EXPECT_LE(double(packed.bytes()), 2.5 * ideal + 4096) << what;
          }
}

TEST(QMatmulPack, ExactSizeOfW4G128) {
  std::mt19937 rng(2);
  Canonical w(64, 512, 4, 128, true, false, rng);
  const PackedQuantMatrix packed(w.source());
  EXPECT_EQ(packed.bytes(), size_t(64 * 512 / 2 + 64 * 4 * 4));  // 4.25 bits per weight
}

TEST(QMatmulPack, RejectsBadSources) {
  std::mt19937 rng(3);
  Canonical w(16, 64, 4, 32, false, true, rng);
  QuantSource s = w.source();
  s.bits = 5;
  EXPECT_THROW(PackedQuantMatrix{s}, Error);
  s = w.source();
  s.group_size = 0;
  EXPECT_THROW(PackedQuantMatrix{s}, Error);
  w.codes[5] = 16;
  EXPECT_THROW(PackedQuantMatrix{w.source()}, Error);
  w.codes[5] = 1;
  w.g_idx[3] = 2;  // only groups 0 and 1 exist
  EXPECT_THROW(PackedQuantMatrix{w.source()}, Error);
  w.g_idx[3] = -1;
  EXPECT_THROW(PackedQuantMatrix{w.source()}, Error);
}

TEST(QMatmulPack, FirstCodeAboveNamesTheFirstOffender) {
  std::vector<uint8_t> codes(1000, 15);
  EXPECT_EQ(first_code_above(codes.data(), 1000, 15), -1);
  EXPECT_EQ(first_code_above(codes.data(), 1000, 7), 0);
  codes.assign(1000, 3);
  codes[700] = 9;
  codes[900] = 4;
  EXPECT_EQ(first_code_above(codes.data(), 1000, 3), 700);
  EXPECT_EQ(first_code_above(codes.data(), 700, 3), -1);
  EXPECT_EQ(first_code_above(codes.data(), 1000, 255), -1);
  EXPECT_EQ(first_code_above(codes.data(), 0, 3), -1);
}

// Activations with the edge cases: an all-zero block, a denormal-sized value,
// a huge one, an exact half.
std::vector<float> edge_case_activations(int64_t blocks) {
  std::mt19937 rng(4);
  std::vector<float> x = random_activations(1, blocks * kQColBlock, rng);
  for (int j = 0; j < kQColBlock; ++j) x[size_t(5 * kQColBlock + j)] = 0;  // an all-zero block
  x[7] = 1e-30f;
  x[100] = 3e4f;
  x[200] = 0.5f;
  return x;
}

TEST(QMatmulActivations, ReferenceQuantizesToTheNearestCode) {
  const int64_t blocks = 40;
  const std::vector<float> x = edge_case_activations(blocks);
  std::vector<int8_t> q0(x.size());
  std::vector<float> s0(blocks);
  std::vector<int32_t> sum0(blocks);
  quantize_blocks_ref(x.data(), blocks, q0.data(), s0.data(), sum0.data());
  for (int64_t b = 0; b < blocks; ++b) {
    int32_t sum = 0;
    float amax = 0;
    for (int j = 0; j < kQColBlock; ++j) {
      const size_t i = size_t(b * kQColBlock + j);
      sum += q0[i];
      amax = std::max(amax, std::fabs(x[i]));
      EXPECT_LE(std::fabs(q0[i] * s0[size_t(b)] - x[i]), s0[size_t(b)] * 0.5f * 1.0001f + 1e-30f);
    }
    EXPECT_EQ(sum, sum0[size_t(b)]);
    EXPECT_EQ(s0[size_t(b)], amax / 127.0f);
  }
  EXPECT_EQ(s0[5], 0.0f);
}

// Each SIMD build against the scalar references, skipped (saying why) where
// this CPU cannot run it.
class QMatmulBuild : public testing::TestWithParam<IsaBuild> {
 protected:
  void SetUp() override {
    if (!GetParam().runs())
      GTEST_SKIP() << GetParam().name << " needs " << GetParam().needs
                   << ", which this CPU lacks (or NIBBLE_ISA forbids)";
  }
};

TEST_P(QMatmulBuild, QuantizesActivationsBitIdenticallyToTheReference) {
  const int64_t blocks = 40;
  const std::vector<float> x = edge_case_activations(blocks);
  std::vector<int8_t> q0(x.size()), q1(x.size());
  std::vector<float> s0(blocks), s1(blocks);
  std::vector<int32_t> sum0(blocks), sum1(blocks);
  quantize_blocks_ref(x.data(), blocks, q0.data(), s0.data(), sum0.data());
  GetParam().quantize(x.data(), blocks, q1.data(), s1.data(), sum1.data());
  EXPECT_EQ(q0, q1);
  EXPECT_EQ(s0, s1);
  EXPECT_EQ(sum0, sum1);
}

TEST_P(QMatmulBuild, EqualsTheScalarReference) {
  const IsaBuild& isa = GetParam();
  std::mt19937 rng(5);
  struct Case {
    int64_t rows, cols, group;
    bool act;
  };
  const Case cases[] = {{16, 128, 32, false},  {33, 256, 64, true},   {7, 96, 96, false},
                        {50, 320, 128, false}, {21, 160, 64, true},   {64, 200, 200, true},
                        {17, 100, 32, false},  {40, 384, 128, true}};
  for (int bits : kBits)
    for (const Case& k : cases)
      for (bool sym : {false, true})
        for (int64_t n = 1; n <= 9; ++n) {
          if (sym && n > 2) continue;  // the zero point path is the same; keep it short
          Canonical w(k.rows, k.cols, bits, k.group, sym, k.act, rng);
          const PackedQuantMatrix packed(w.source());
          const QuantMatrixView v = packed.view();
          const std::vector<float> X = random_activations(n, k.cols, rng);
          const Activations a(packed, X, n);
          const std::vector<float> scale = magnitudes(w, X, n);
          std::vector<float> want(size_t(n * k.rows), -1.0f);
          qmatmul_ref(v, 0, v.row_blocks, a.view, want.data(), k.rows);
          std::vector<float> got(want.size(), -1.0f);
          isa.rows(v, 0, v.row_blocks, a.view, got.data(), k.rows);
          expect_close(got, want, scale, 1e-4, cat(isa.name, " ", describe(w, n)));
        }
}

TEST_P(QMatmulBuild, LongPrefillAndRowRanges) {
  // Past one token chunk (64), and row ranges that start mid-matrix.
  const IsaBuild& isa = GetParam();
  std::mt19937 rng(6);
  for (int bits : kBits) {
    Canonical w(70, 256, bits, 128, false, bits == 3, rng);
    const PackedQuantMatrix packed(w.source());
    const QuantMatrixView v = packed.view();
    const int64_t n = 75;
    const std::vector<float> X = random_activations(n, w.cols, rng);
    const Activations a(packed, X, n);
    const std::vector<float> scale = magnitudes(w, X, n);
    std::vector<float> want(size_t(n * w.rows));
    qmatmul_ref(v, 0, v.row_blocks, a.view, want.data(), w.rows);
    std::vector<float> got(want.size(), -1.0f);
    isa.rows(v, 0, 2, a.view, got.data(), w.rows);
    isa.rows(v, 2, v.row_blocks, a.view, got.data(), w.rows);
    expect_close(got, want, scale, 1e-4, cat(isa.name, " ", describe(w, n)));
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, QMatmulBuild, testing::ValuesIn(kBuilds),
                         [](const testing::TestParamInfo<IsaBuild>& info) {
                           return std::string(info.param.name);
                         });

// |y_int8 - y_f32| <= sum_c |W[r, c]| * xs_b(c) / 2, plus f32 rounding.
TEST(QMatmulKernels, Int8ReferenceIsWithinItsBoundOfTheF32Product) {
  std::mt19937 rng(7);
  double err2 = 0, ref2 = 0;
  for (int bits : kBits)
    for (bool act : {false, true}) {
      Canonical w(24, 288, bits, 64, false, act, rng);
      const PackedQuantMatrix packed(w.source());
      const QuantMatrixView v = packed.view();
      const int64_t n = 3;
      const std::vector<float> X = random_activations(n, w.cols, rng);
      const Activations a(packed, X, n);
      std::vector<float> y8(size_t(n * w.rows)), y32(y8.size());
      qmatmul_ref(v, 0, v.row_blocks, a.view, y8.data(), w.rows);
      qmatmul_dequant_ref(w.source(), X.data(), n, y32.data());
      const std::vector<float> scale = magnitudes(w, X, n);
      // The block scale of each input column, through the runtime order.
      std::vector<float> col_scale(size_t(n * w.cols));
      for (int64_t t = 0; t < n; ++t)
        for (int64_t p = 0; p < packed.k_pad(); ++p) {
          const int64_t c = packed.col_index().empty() ? (p < w.cols ? p : -1)
                                                       : packed.col_index()[size_t(p)];
          if (c >= 0) col_scale[size_t(t * w.cols + c)] = a.view.scale[t * a.view.blocks + p / kQColBlock];
        }
      for (int64_t t = 0; t < n; ++t)
        for (int64_t r = 0; r < w.rows; ++r) {
          double bound = 0;
          for (int64_t c = 0; c < w.cols; ++c)
            bound += std::fabs(w.weight(r, c)) * col_scale[size_t(t * w.cols + c)] / 2;
          const size_t i = size_t(t * w.rows + r);
          EXPECT_LE(std::fabs(y8[i] - y32[i]), bound + 1e-5 * scale[i]) << describe(w, n);
          err2 += double(y8[i] - y32[i]) * (y8[i] - y32[i]);
          ref2 += double(y32[i]) * y32[i];
        }
    }
  // Typical size (documented in qmatmul.h): well under 1% RMS.
  EXPECT_LT(std::sqrt(err2 / ref2), 0.01);
}

TEST(QMatmulKernels, ThreadedEntryPointEqualsTheReference) {
  std::mt19937 rng(8);
  for (int bits : kBits)
    for (int64_t n : {1, 5, 33}) {
      Canonical w(200, 512, bits, 128, bits == 4, bits == 2, rng);
      const PackedQuantMatrix packed(w.source());
      const std::vector<float> X = random_activations(n, w.cols, rng);
      const Activations a(packed, X, n);
      std::vector<float> want(size_t(n * w.rows)), got(want.size(), -1.0f);
      qmatmul_ref(packed.view(), 0, packed.view().row_blocks, a.view, want.data(), w.rows);
      qmatmul(packed, X.data(), n, got.data());
      expect_close(got, want, magnitudes(w, X, n), 1e-4, describe(w, n));
    }
}

TEST(QMatmulKernels, RejectsAShortScratchBuffer) {
  std::mt19937 rng(9);
  Canonical w(16, 64, 4, 32, false, false, rng);
  const PackedQuantMatrix packed(w.source());
  std::vector<float> X(64 * 2), Y(16 * 2);
  std::vector<uint8_t> scratch(packed.scratch_bytes(2) - 1);
  EXPECT_THROW(qmatmul(packed, X.data(), 2, Y.data(), scratch.data(), scratch.size()), Error);
}

}  // namespace
}  // namespace nibble::kernels
