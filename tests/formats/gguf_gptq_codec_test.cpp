// GPTQ codes in llama.cpp blocks: decoding the blocks with the block
// formulas must give back exactly the GPTQ grid values (q - z) * s.
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "core/half.h"
#include "formats/gguf_blocks.h"
#include "formats/gguf_gptq_codec.h"

namespace nibble {
namespace {

using io::GgmlType;

quant::GptqOutput random_grid(int bits, bool symmetric, int64_t rows, int64_t cols) {
  std::mt19937 rng(7);
  quant::GptqOutput q;
  q.rows = rows;
  q.cols = cols;
  q.groups = int(cols / 32);
  const int maxq = (1 << bits) - 1;
  for (int64_t i = 0; i < rows * cols; ++i) q.codes.push_back(uint8_t(rng() % (maxq + 1)));
  for (int64_t i = 0; i < rows * q.groups; ++i) {
    q.scales.push_back(f16_to_f32(f32_to_f16(0.001f + float(rng() % 1000) * 1e-4f)));
    q.zeros.push_back(symmetric ? float(1 << (bits - 1)) : float(rng() % (maxq + 1)));
  }
  for (int64_t c = 0; c < cols; ++c) q.g_idx.push_back(int32_t(c / 32));
  return q;
}

void expect_decodes_to_grid(GgmlType type, int bits, bool symmetric, float tolerance) {
  const quant::GptqOutput q = random_grid(bits, symmetric, 3, 96);
  const formats::GgufPrecomputedTensor t = formats::encode_gptq_as_gguf(q, type, "w");
  ASSERT_EQ(t.blocks.size(), 3 * formats::gguf_row_bytes(type, 96));
  std::vector<float> row(96);
  for (int64_t r = 0; r < 3; ++r) {
    formats::dequantize_row(type, &t.blocks[size_t(r) * formats::gguf_row_bytes(type, 96)], row.data(), 96);
    for (int64_t c = 0; c < 96; ++c) {
      const size_t g = size_t(r * 3 + c / 32);
      const float want = (float(q.codes[size_t(r * 96 + c)]) - q.zeros[g]) * q.scales[g];
      EXPECT_NEAR(row[size_t(c)], want, tolerance * q.scales[g]) << ggml_type_name(type) << " " << r << "," << c;
    }
  }
}

TEST(GgufGptqCodec, Q4_0BlocksHoldTheSymmetricGridExactly) { expect_decodes_to_grid(GgmlType::Q4_0, 4, true, 0); }
TEST(GgufGptqCodec, Q8_0BlocksHoldTheSymmetricGridExactly) { expect_decodes_to_grid(GgmlType::Q8_0, 8, true, 0); }
// Q4_1's minimum -z*s is rounded to fp16: within 16 * 2^-11 scales.
TEST(GgufGptqCodec, Q4_1BlocksHoldTheAsymmetricGrid) { expect_decodes_to_grid(GgmlType::Q4_1, 4, false, 0.01f); }

TEST(GgufGptqCodec, OptionsMatchTheBlockGridAndOthersAreRefused) {
  EXPECT_EQ(formats::gptq_options_for_gguf(GgmlType::Q4_0).group_size, 32);
  EXPECT_TRUE(formats::gptq_options_for_gguf(GgmlType::Q4_0).symmetric);
  EXPECT_FALSE(formats::gptq_options_for_gguf(GgmlType::Q4_1).symmetric);
  EXPECT_EQ(formats::gptq_options_for_gguf(GgmlType::Q8_0).bits, 8);
  EXPECT_THROW(formats::gptq_options_for_gguf(GgmlType::Q4_K), Error);
  quant::GptqOutput q = random_grid(4, false, 2, 64);
  EXPECT_THROW(formats::encode_gptq_as_gguf(q, GgmlType::Q4_0, "w"), Error);  // zeros are not 8
}

}  // namespace
}  // namespace nibble
