// The attention loops: the scalar reference against a plain dot product
// over row-major keys laid out by kernels::key_tile_offset, and the SIMD
// builds against the reference, for query-head groups and head sizes with
// and without vector tails, and position counts around the 16-position
// key tile.
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

// Row-major keys [position][head_dim] rearranged into key tiles; the slots
// past the last position hold NaN, which no score may pick up.
std::vector<float> to_key_tiles(const std::vector<float>& keys, int64_t positions, int head_dim) {
  std::vector<float> tiles(size_t(key_tiles_size(positions, head_dim)), std::nanf(""));
  for (int64_t p = 0; p < positions; ++p)
    for (int d = 0; d < head_dim; ++d) tiles[size_t(key_tile_offset(p, d, head_dim))] = keys[p * head_dim + d];
  return tiles;
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-4f * (1.0f + std::abs(want[i]))) << what << " at " << i;
}

TEST(AttentionKernels, ReferenceScoresAreDotProductsOfRowMajorKeys) {
  std::mt19937 rng(3);
  const int heads = 3, head_dim = 5;
  for (int64_t positions : {1, 16, 17, 40}) {
    const std::vector<float> q = random_floats(size_t(heads * head_dim), rng);
    const std::vector<float> keys = random_floats(size_t(positions * head_dim), rng);
    std::vector<float> scores(size_t(heads * positions));
    attention_scores_ref(q.data(), heads, to_key_tiles(keys, positions, head_dim).data(), positions, head_dim,
                         0.5f, scores.data());
    for (int h = 0; h < heads; ++h)
      for (int64_t p = 0; p < positions; ++p) {
        double dot = 0;
        for (int d = 0; d < head_dim; ++d) dot += double(q[h * head_dim + d]) * keys[p * head_dim + d];
        EXPECT_NEAR(scores[h * positions + p], 0.5 * dot, 1e-5) << "head " << h << " position " << p;
      }
  }
}

TEST(AttentionKernels, ReferenceMixWeighsValueRows) {
  const int heads = 2, head_dim = 3;
  const int64_t positions = 2;
  const std::vector<float> values = {1, 2, 3, 10, 20, 30};  // [position][head_dim]
  const std::vector<float> weights = {0.25f, 0.75f, 1.0f, 0.0f};  // [head][position]
  std::vector<float> out(size_t(heads * head_dim));
  attention_mix_ref(weights.data(), heads, values.data(), positions, head_dim, out.data());
  EXPECT_EQ(out, (std::vector<float>{7.75f, 15.5f, 23.25f, 1, 2, 3}));
}

TEST(AttentionKernels, EveryBuildEqualsTheScalarReference) {
  if (runnable_builds().empty()) GTEST_SKIP() << "no SIMD build runs on this CPU";
  std::mt19937 rng(7);
  for (int head_dim : {8, 13, 32, 64, 72, 80, 128, 130, 256}) {
    for (int heads : {1, 3, 4, 5, 8, 9}) {
      for (int64_t positions : {1, 2, 15, 16, 17, 300}) {
        const std::vector<float> q = random_floats(size_t(heads * head_dim), rng);
        const std::vector<float> tiles =
            to_key_tiles(random_floats(size_t(positions * head_dim), rng), positions, head_dim);
        const std::vector<float> values = random_floats(size_t(positions * head_dim), rng);
        const std::vector<float> weights = random_floats(size_t(heads * positions), rng);
        // One guard float past each output: it must stay untouched (-1 in both).
        std::vector<float> want_scores(size_t(heads * positions) + 1, -1.0f);
        std::vector<float> want_out(size_t(heads * head_dim) + 1, -1.0f);
        attention_scores_ref(q.data(), heads, tiles.data(), positions, head_dim, 0.125f, want_scores.data());
        attention_mix_ref(weights.data(), heads, values.data(), positions, head_dim, want_out.data());
        for (const IsaBuild& b : runnable_builds()) {
          SCOPED_TRACE(testing::Message() << isa_name(b.isa) << " head_dim " << head_dim << " heads " << heads
                                          << " positions " << positions);
          std::vector<float> scores(want_scores.size(), -1.0f), out(want_out.size(), -1.0f);
          b.scores(q.data(), heads, tiles.data(), positions, head_dim, 0.125f, scores.data());
          b.mix(weights.data(), heads, values.data(), positions, head_dim, out.data());
          expect_close(scores, want_scores, "scores");
          expect_close(out, want_out, "mix");
        }
      }
    }
  }
}

}  // namespace
}  // namespace nibble::kernels
