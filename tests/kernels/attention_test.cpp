// The attention loops' SIMD builds against the scalar reference, on head
// sizes with and without vector tails, strided cache rows and position
// counts from 1 to a few hundred.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "kernels/attention.h"
#include "kernels/dispatch.h"

namespace nibble::kernels {
namespace {

struct IsaBuild {
  Isa isa;
  AttentionScoresFn scores;
  AttentionMixFn mix;
};

std::vector<IsaBuild> runnable_builds() {
  std::vector<IsaBuild> builds;
  if (cpu_runs(Isa::avx2)) builds.push_back({Isa::avx2, avx2::attention_scores, avx2::attention_mix});
  if (cpu_runs(Isa::avx512))
    builds.push_back({Isa::avx512, avx512::attention_scores, avx512::attention_mix});
  return builds;
}

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, size_t n,
                  const char* what) {
  for (size_t i = 0; i < n; ++i)
    ASSERT_NEAR(got[i], want[i], 1e-4f * (1.0f + std::abs(want[i]))) << what << " at " << i;
}

TEST(AttentionKernels, EveryBuildEqualsTheScalarReference) {
  if (runnable_builds().empty()) GTEST_SKIP() << "no SIMD build runs on this CPU";
  std::mt19937 rng(7);
  for (int head_dim : {8, 13, 32, 64, 72, 80, 128, 130, 256}) {
    for (int64_t positions : {1, 2, 17, 300}) {
      const int64_t stride = head_dim * 4 + 3;  // rows of a wider cache, unaligned
      const std::vector<float> q = random_floats(size_t(head_dim), rng);
      const std::vector<float> cache = random_floats(size_t(stride * positions), rng);
      std::vector<float> weights = random_floats(size_t(positions), rng);
      std::vector<float> want_scores(static_cast<size_t>(positions)), want_out(size_t(head_dim) + 16, -1.0f);
      attention_scores_ref(q.data(), cache.data(), stride, positions, head_dim, 0.125f, want_scores.data());
      attention_mix_ref(weights.data(), cache.data(), stride, positions, head_dim, want_out.data());
      for (const IsaBuild& b : runnable_builds()) {
        SCOPED_TRACE(testing::Message() << isa_name(b.isa) << " head_dim " << head_dim << " positions "
                                        << positions);
        std::vector<float> scores(static_cast<size_t>(positions)), out(size_t(head_dim) + 16, -1.0f);
        b.scores(q.data(), cache.data(), stride, positions, head_dim, 0.125f, scores.data());
        b.mix(weights.data(), cache.data(), stride, positions, head_dim, out.data());
        expect_close(scores, want_scores, size_t(positions), "scores");
        // The 16 floats past the head are untouched (-1 in both).
        expect_close(out, want_out, out.size(), "mix");
      }
    }
  }
}

}  // namespace
}  // namespace nibble::kernels
