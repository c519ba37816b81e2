// The attention loops: the scalar reference against a plain dot product
// over row-major keys laid out by kernels::key_tile_offset, and the SIMD
// builds against the reference, for query-head groups and head sizes with
// and without vector tails, and position counts around the 16-position
// key tile. llama.cpp's fp16 decode order against numbers worked by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "core/half.h"
#include "kernels/attention.h"
#include "kernels/dispatch.h"

namespace nibble::kernels {
namespace {

struct IsaBuild {
  Isa isa;
  AttentionScoresFn scores;
  AttentionMixFn mix;
  AttentionMixF16Fn mix_f16;
};

std::vector<IsaBuild> runnable_builds() {
  std::vector<IsaBuild> builds;
  if (cpu_runs(Isa::avx2))
    builds.push_back({Isa::avx2, avx2::attention_scores, avx2::attention_mix, avx2::attention_mix_f16});
  if (cpu_runs(Isa::avx512))
    builds.push_back(
        {Isa::avx512, avx512::attention_scores, avx512::attention_mix, avx512::attention_mix_f16});
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

TEST(AttentionKernels, SoftmaxMixF16RoundsTheAccumulatorToHalfAfterEveryStep) {
  // Two equal scores: weights 1 and 1, sum 2. 1 + 2^-11 is a tie between
  // fp16 neighbours 1 and 1 + 2^-10 and rounds to even (1); 1 + 3 * 2^-11
  // rounds up to 1 + 2^-9. An f32 accumulator would keep both sums.
  for (const auto& [second, sum] : {std::pair{0x1p-11f, 1.0f}, std::pair{0x3p-11f, 1.0f + 0x1p-9f}}) {
    std::vector<float> scores = {0.5f, 0.5f};
    const std::vector<float> values = {1.0f, second};  // head_dim 1
    float out = -1;
    attention_softmax_mix_f16(scores.data(), 1, values.data(), 2, 1, &out);
    EXPECT_EQ(out, sum * 0.5f) << second;
  }
}

TEST(AttentionKernels, SoftmaxMixF16RescalesWhenTheMaximumGrows) {
  // Scores 0 then 1: position 0 weighs 1; position 1 is a new maximum, so
  // the accumulator and the sum are first scaled by r = exp(0 - 1), rounded
  // to fp16, and position 1 weighs 1. Then a smaller score 0.5 weighs
  // exp(0.5 - 1) under the running maximum 1.
  const float r = float(std::exp(-1.0)), w = float(std::exp(-0.5));  // the nearest floats
  std::vector<float> scores = {0.0f, 1.0f, 0.5f};
  const std::vector<float> values = {3.0f, -2.0f, 0.1f, 5.0f, 1.0f, 7.0f};  // [position][head_dim 2]
  std::vector<float> out(2);
  attention_softmax_mix_f16(scores.data(), 1, values.data(), 3, 2, out.data());
  const float sum = std::fma(std::fma(1.0f, r, 1.0f), 1.0f, w);
  for (int d = 0; d < 2; ++d) {
    float acc = round_to_f16(values[size_t(d)]);
    acc = round_to_f16(acc * r);
    acc = round_to_f16(values[size_t(2 + d)] + acc);
    acc = round_to_f16(std::fma(values[size_t(4 + d)], w, acc));
    EXPECT_EQ(out[size_t(d)], acc * (1.0f / sum)) << d;
  }
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
        // The fp16 accumulation must match to the bit: weights in [0, 1],
        // and a rescale before about one position in eight.
        std::vector<float> rescales(size_t(heads * positions), 1.0f);
        std::vector<float> unit(weights.size());
        for (size_t i = 0; i < unit.size(); ++i) {
          unit[i] = std::abs(weights[i]) / (1.0f + std::abs(weights[i]));
          if (rng() % 8 == 0) rescales[i] = unit[i];
        }
        attention_mix_f16_ref(unit.data(), rescales.data(), heads, values.data(), positions, head_dim,
                              want_out.data());
        for (const IsaBuild& b : runnable_builds()) {
          SCOPED_TRACE(testing::Message() << isa_name(b.isa) << " fp16 head_dim " << head_dim << " heads "
                                          << heads << " positions " << positions);
          std::vector<float> out(want_out.size(), -1.0f);
          b.mix_f16(unit.data(), rescales.data(), heads, values.data(), positions, head_dim, out.data());
          ASSERT_EQ(out, want_out);
        }
      }
    }
  }
}

}  // namespace
}  // namespace nibble::kernels
