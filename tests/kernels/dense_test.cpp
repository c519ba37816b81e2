// The fast dense kernels against the scalar references: every ISA build this
// CPU can run, called directly, on ragged and realistic shapes; and the
// threaded entry points against themselves on one thread.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "core/error.h"
#include "core/half.h"
#include "core/parallel.h"
#include "kernels/dense.h"
#include "kernels/dispatch.h"

namespace nibble::kernels {
namespace {

using F32Rows = void (*)(const float*, int64_t, int64_t, int64_t, const float*, int64_t, float*,
                         int64_t);
using Bf16Rows = void (*)(const uint16_t*, int64_t, int64_t, int64_t, const float*, int64_t,
                          float*, int64_t);

struct IsaBuild {
  Isa isa;
  F32Rows f32;
  Bf16Rows bf16;
};

// The builds this CPU runs; the scalar one is the reference itself.
std::vector<IsaBuild> runnable_builds() {
  std::vector<IsaBuild> builds;
  if (cpu_runs(Isa::avx2)) builds.push_back({Isa::avx2, avx2::matmul_f32_rows, avx2::matmul_bf16_rows});
  if (cpu_runs(Isa::avx512))
    builds.push_back({Isa::avx512, avx512::matmul_f32_rows, avx512::matmul_bf16_rows});
  return builds;
}

struct Shape {
  int64_t rows, cols, n;
};

struct Problem {
  Shape shape;
  std::vector<float> w32, x;
  std::vector<uint16_t> w16;
  std::vector<float> scale32, scale16;  // sum_c |w * x| per output, the error scale

  Problem(Shape s, std::mt19937& rng) : shape(s) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    w32.resize(size_t(s.rows * s.cols));
    w16.resize(w32.size());
    x.resize(size_t(s.n * s.cols));
    for (size_t i = 0; i < w32.size(); ++i) {
      w32[i] = normal(rng);
      w16[i] = f32_to_bf16(normal(rng));
    }
    for (float& v : x) v = normal(rng);
    scale32.assign(size_t(s.n * s.rows), 0.0f);
    scale16.assign(size_t(s.n * s.rows), 0.0f);
    for (int64_t t = 0; t < s.n; ++t)
      for (int64_t r = 0; r < s.rows; ++r)
        for (int64_t c = 0; c < s.cols; ++c) {
          const float xv = x[size_t(t * s.cols + c)];
          scale32[size_t(t * s.rows + r)] += std::fabs(w32[size_t(r * s.cols + c)] * xv);
          scale16[size_t(t * s.rows + r)] +=
              std::fabs(bf16_to_f32(w16[size_t(r * s.cols + c)]) * xv);
        }
  }
};

void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                  const std::vector<float>& scale, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  int reported = 0;
  for (size_t i = 0; i < got.size() && reported < 5; ++i) {
    const float tolerance = 1e-4f * scale[i] + 1e-30f;
    if (!(std::fabs(got[i] - want[i]) <= tolerance)) {
      ADD_FAILURE() << what << ": output " << i << " is " << got[i] << ", reference " << want[i]
                    << " (tolerance " << tolerance << ")";
      ++reported;
    }
  }
}

std::string describe(const char* kind, Isa isa, Shape s) {
  return cat(kind, " ", isa_name(isa), " rows ", s.rows, " cols ", s.cols, " n ", s.n);
}

// Runs every build on `shape`, over all rows and over an interior row range
// (outputs outside the range must stay untouched).
void check_builds(Shape s, std::mt19937& rng) {
  const Problem p(s, rng);
  const size_t outputs = size_t(s.n * s.rows);
  std::vector<float> want32(outputs), want16(outputs);
  matmul_f32_ref(p.w32.data(), 0, s.rows, s.cols, p.x.data(), s.n, want32.data(), s.rows);
  matmul_bf16_ref(p.w16.data(), 0, s.rows, s.cols, p.x.data(), s.n, want16.data(), s.rows);

  const int64_t r0 = s.rows / 3, r1 = s.rows - s.rows / 4;
  for (const IsaBuild& b : runnable_builds()) {
    std::vector<float> got(outputs, NAN);
    b.f32(p.w32.data(), 0, s.rows, s.cols, p.x.data(), s.n, got.data(), s.rows);
    expect_close(got, want32, p.scale32, describe("f32", b.isa, s));
    got.assign(outputs, NAN);
    b.bf16(p.w16.data(), 0, s.rows, s.cols, p.x.data(), s.n, got.data(), s.rows);
    expect_close(got, want16, p.scale16, describe("bf16", b.isa, s));

    std::vector<float> part(outputs, -7.0f);
    b.bf16(p.w16.data(), r0, r1, s.cols, p.x.data(), s.n, part.data(), s.rows);
    for (int64_t t = 0; t < s.n; ++t)
      for (int64_t r = 0; r < s.rows; ++r) {
        const size_t i = size_t(t * s.rows + r);
        if (r < r0 || r >= r1)
          ASSERT_EQ(part[i], -7.0f) << describe("bf16 range", b.isa, s) << " wrote row " << r;
        else
          ASSERT_EQ(part[i], got[i]) << describe("bf16 range", b.isa, s) << " row " << r;
      }
  }
}

TEST(DenseKernels, RaggedShapesMatchReference) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int64_t> rows(1, 67), cols(1, 300), n(1, 9);
  for (int i = 0; i < 150; ++i) check_builds({rows(rng), cols(rng), n(rng)}, rng);
  // Each column tail and each token tail at least once.
  for (int64_t c = 1; c <= 33; ++c) check_builds({5, c, 7}, rng);
  for (int64_t t = 1; t <= 13; ++t) check_builds({9, 70, t}, rng);
}

TEST(DenseKernels, RealisticShapesMatchReference) {
  std::mt19937 rng(99);
  check_builds({256, 768, 1}, rng);
  check_builds({256, 768, 7}, rng);
  check_builds({96, 2048, 1}, rng);
  check_builds({64, 2048, 13}, rng);
}

TEST(DenseKernels, ZeroColumnsGiveZeros) {
  for (const IsaBuild& b : runnable_builds())
    for (int64_t n : {1, 5}) {
      std::vector<float> y(size_t(3 * n), NAN);
      const float x = 0, w = 0;
      const uint16_t w16 = 0;
      b.f32(&w, 0, 3, 0, &x, n, y.data(), 3);
      for (float v : y) EXPECT_EQ(v, 0.0f) << isa_name(b.isa);
      y.assign(y.size(), NAN);
      b.bf16(&w16, 0, 3, 0, &x, n, y.data(), 3);
      for (float v : y) EXPECT_EQ(v, 0.0f) << isa_name(b.isa);
    }
}

// Threads split rows, so each output is computed by the same code either
// way: results must be identical, not merely close.
TEST(DenseKernels, ThreadedEqualsSingleThreaded) {
  std::mt19937 rng(7);
  const int saved = num_threads();
  for (Shape s : {Shape{1000, 300, 1}, Shape{517, 1024, 1}, Shape{333, 257, 9}, Shape{64, 2048, 3}}) {
    const Problem p(s, rng);
    const size_t outputs = size_t(s.n * s.rows);
    std::vector<float> one32(outputs), one16(outputs), many32(outputs), many16(outputs);
    set_num_threads(1);
    matmul_f32(p.w32.data(), s.rows, s.cols, p.x.data(), s.n, one32.data());
    matmul_bf16(p.w16.data(), s.rows, s.cols, p.x.data(), s.n, one16.data());
    for (int threads : {2, 3, 4}) {
      set_num_threads(threads);
      matmul_f32(p.w32.data(), s.rows, s.cols, p.x.data(), s.n, many32.data());
      matmul_bf16(p.w16.data(), s.rows, s.cols, p.x.data(), s.n, many16.data());
      EXPECT_EQ(many32, one32) << describe("f32", best_isa(), s) << " threads " << threads;
      EXPECT_EQ(many16, one16) << describe("bf16", best_isa(), s) << " threads " << threads;
    }
    // And the dispatched result is the reference's, to rounding.
    std::vector<float> want(outputs);
    matmul_bf16_ref(p.w16.data(), 0, s.rows, s.cols, p.x.data(), s.n, want.data(), s.rows);
    expect_close(many16, want, p.scale16, describe("dispatched bf16", best_isa(), s));
  }
  set_num_threads(saved);
}

int scalar_fn() { return 0; }
int avx2_fn() { return 2; }
int avx512_fn() { return 3; }

TEST(DenseDispatch, PicksHighestAllowedLevelAndFallsBack) {
  using Fn = int (*)();
  constexpr IsaKernels<Fn> all{scalar_fn, avx2_fn, avx512_fn};
  constexpr IsaKernels<Fn> no512{scalar_fn, avx2_fn};
  constexpr IsaKernels<Fn> only_scalar{scalar_fn};
  EXPECT_EQ(pick(all, Isa::avx512)(), 3);
  EXPECT_EQ(pick(all, Isa::avx2)(), 2);
  EXPECT_EQ(pick(all, Isa::scalar)(), 0);
  EXPECT_EQ(pick(no512, Isa::avx512)(), 2);
  EXPECT_EQ(pick(only_scalar, Isa::avx512)(), 0);
}

TEST(DenseKernels, RejectsBadShapes) {
  float y = 0, x = 0, w = 0;
  EXPECT_THROW(matmul_f32(&w, -1, 1, &x, 1, &y), Error);
  EXPECT_THROW(matmul_f32(&w, 1, 1, &x, -2, &y), Error);
  EXPECT_THROW(matmul_bf16(nullptr, 4, 4, &x, 1, &y), Error);
}

}  // namespace
}  // namespace nibble::kernels
