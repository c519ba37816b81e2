// AutoAWQ GEMM/GEMV packing against specs/awq.md §8–§9: the spec's worked
// words, and a decoder of the spec's formula written here (not the codec).
#include <gtest/gtest.h>

#include <random>

#include "core/error.h"
#include "core/half.h"
#include "formats/awq_codec.h"
#include "quant/rtn.h"

namespace nibble {
namespace {

TensorView view_of(DType dtype, std::vector<int64_t> shape, const void* data) {
  TensorView v;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.data = data;
  v.nbytes = size_t(v.numel()) * dtype_size(dtype);
  return v;
}

// Spec §9: output column 8c + j of a GEMM word is its nibble REV[j].
uint32_t gemm_field(const int32_t* words, int64_t words_per_row, int64_t row, int64_t column) {
  static const int kRev[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  const uint32_t word = uint32_t(words[row * words_per_row + column / 8]);
  return (word >> (4 * kRev[column % 8])) & 0xF;
}

TEST(AwqCodec, PacksTheSpecsWorkedWords) {
  const uint8_t ascending[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  const uint8_t mixed[8] = {15, 0, 1, 14, 8, 7, 3, 12};
  const uint8_t eights[8] = {8, 8, 8, 8, 8, 8, 8, 8};
  EXPECT_EQ(formats::pack_awq_word(ascending, 1), 0x75316420u);
  EXPECT_EQ(int32_t(formats::pack_awq_word(mixed, 1)), -941606881);
  EXPECT_EQ(int32_t(formats::pack_awq_word(eights, 1)), -2004318072);
  uint8_t back[8];
  formats::unpack_awq_word(0xC7E0381Fu, back, 1);
  for (int j = 0; j < 8; ++j) EXPECT_EQ(back[j], mixed[j]) << j;
}

TEST(AwqCodec, DequantizesTheSpecsExample) {
  // Input column 0 of 8 outputs holds the codes 15,0,1,14,8,7,3,12 (z = 8,
  // s = 0.25, one group of 8 inputs); the other inputs hold code 8.
  const uint8_t column[8] = {15, 0, 1, 14, 8, 7, 3, 12};
  quant::GptqOutput q;
  q.rows = 8;
  q.cols = 8;
  q.groups = 1;
  q.codes.assign(64, 8);
  for (int n = 0; n < 8; ++n) q.codes[size_t(n * 8)] = column[n];
  q.scales.assign(8, 0.25f);
  q.zeros.assign(8, 8.0f);
  q.g_idx.assign(8, 0);
  const formats::AwqTensors t = formats::encode_awq_gemm(q, 8);
  EXPECT_EQ(uint32_t(t.qweight[0]), 0xC7E0381Fu);
  EXPECT_EQ(uint32_t(t.qzeros[0]), 0x88888888u);
  const float expected[8] = {1.75f, -2.0f, -1.75f, 1.5f, 0.0f, -0.25f, -1.25f, 1.0f};
  for (int n = 0; n < 8; ++n) {
    const float w = (float(gemm_field(t.qweight.data(), 1, 0, n)) - float(gemm_field(t.qzeros.data(), 1, 0, n))) *
                    f16_to_f32(t.scales[size_t(n)]);
    EXPECT_EQ(w, expected[n]) << n;
  }
}

quant::GptqOutput random_quantized(int64_t rows, int64_t cols, int group_size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::vector<float> W(static_cast<size_t>(rows * cols));
  for (float& w : W) w = normal(rng);
  return quant::rtn_quantize(W.data(), rows, cols, {4, group_size, false});
}

TEST(AwqCodec, IndependentDecoderRecoversTheWeights) {
  for (int g : {32, 128}) {
    const int64_t N = 48, K = 256;
    const quant::GptqOutput q = random_quantized(N, K, g, 7);
    const formats::AwqTensors t = formats::encode_awq_gemm(q, g);
    ASSERT_EQ(t.qweight.size(), size_t(K * N / 8));
    ASSERT_EQ(t.qzeros.size(), size_t(K / g * N / 8));
    ASSERT_EQ(t.scales.size(), size_t(K / g * N));
    const std::vector<float> expected = quant::dequantize(q);
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) {
        const int64_t group = k / g;
        const float w = (float(gemm_field(t.qweight.data(), N / 8, k, n)) -
                         float(gemm_field(t.qzeros.data(), N / 8, group, n))) *
                        f16_to_f32(t.scales[size_t(group * N + n)]);
        ASSERT_EQ(w, expected[size_t(n * K + k)]) << "g " << g << " k " << k << " n " << n;
      }
    // And the codec's own decoder gives back exactly what was encoded.
    const quant::GptqOutput back = formats::decode_awq_gemm(
        "x", view_of(DType::I32, {K, N / 8}, t.qweight.data()), view_of(DType::I32, {K / g, N / 8}, t.qzeros.data()),
        view_of(DType::F16, {K / g, N}, t.scales.data()), g);
    EXPECT_EQ(back.codes, q.codes);
    EXPECT_EQ(back.zeros, q.zeros);
    EXPECT_EQ(back.scales, q.scales);
    EXPECT_EQ(back.g_idx, q.g_idx);
  }
}

TEST(AwqCodec, DecodesGemvWrittenFromTheSpec) {
  // g = 64, K = 640: G = 10 groups, zero/scale width ceil(ceil(10 / 8) / 2) · 2 = 2 words.
  const int64_t N = 16, K = 640, g = 64, G = K / g, width = 2;
  const quant::GptqOutput q = random_quantized(N, K, int(g), 11);
  std::vector<int32_t> qweight(size_t(N * K / 8), 0), qzeros(size_t(N * width), 0);
  std::vector<uint16_t> scales(size_t(N * 8 * width), 0);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k)
      qweight[size_t(n * K / 8 + k / 8)] |= int32_t(uint32_t(q.codes[size_t(n * K + k)]) << (4 * (k % 8)));
    for (int64_t t = 0; t < G; ++t) {
      qzeros[size_t(n * width + t / 8)] |= int32_t(uint32_t(q.zeros[size_t(n * G + t)]) << (4 * (t % 8)));
      scales[size_t(n * 8 * width + t)] = f32_to_f16(q.scales[size_t(n * G + t)]);
    }
  }
  const quant::GptqOutput back = formats::decode_awq_gemv(
      "x", view_of(DType::I32, {N, K / 8}, qweight.data()), view_of(DType::I32, {N, width}, qzeros.data()),
      view_of(DType::F16, {N, 8 * width}, scales.data()), g);
  EXPECT_EQ(quant::dequantize(back), quant::dequantize(q));
}

TEST(AwqCodec, RefusesWhatItCannotStoreOrRead) {
  const quant::GptqOutput q = random_quantized(12, 128, 128, 3);  // 12 outputs: not a multiple of 8
  EXPECT_THROW(formats::encode_awq_gemm(q, 128), Error);
  const quant::GptqOutput ok = random_quantized(16, 128, 128, 3);
  const formats::AwqTensors t = formats::encode_awq_gemm(ok, 128);
  try {
    formats::decode_awq_gemm("model.layers.0.mlp.up_proj", view_of(DType::I32, {128, 2}, t.qweight.data()),
                             view_of(DType::I32, {2, 2}, t.qzeros.data()),
                             view_of(DType::F16, {1, 16}, t.scales.data()), 128);
    FAIL() << "a qzeros tensor of the wrong shape was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.layers.0.mlp.up_proj.qzeros"), std::string::npos) << e.what();
  }
  EXPECT_THROW(formats::decode_awq_gemm("x", view_of(DType::I32, {128, 2}, t.qweight.data()),
                                        view_of(DType::I32, {1, 2}, t.qzeros.data()),
                                        view_of(DType::F16, {1, 16}, t.scales.data()), 96),
               Error);  // 96 does not divide 128
}

}  // namespace
}  // namespace nibble
