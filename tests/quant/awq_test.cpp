// AWQ's scale search and folding (quant/awq.h) on the bundled model, and the
// group quantizer against specs/awq.md §7.1.
#include <cblas.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "io/model_source.h"
#include "model/kv_cache.h"
#include "model/llama.h"
#include "quant/awq.h"
#include "quant/calibration.h"
#include "quant/rtn.h"
#include "test_paths.h"
#include "tokenizer/load_tokenizer.h"

namespace nibble {
namespace {

TEST(Awq, GroupQuantizerMatchesTheSpecsTestVector) {
  const float w[8] = {-1.0f, -0.625f, 0.0f, 0.625f, 1.0f, 2.75f, 1.5f, -0.125f};
  const quant::GptqOutput q = quant::rtn_quantize(w, 1, 8, {4, 8, false});
  EXPECT_EQ(q.scales[0], 0.25f);
  EXPECT_EQ(q.zeros[0], 4.0f);
  EXPECT_EQ(q.codes, (std::vector<uint8_t>{0, 2, 4, 6, 8, 15, 10, 4}));  // half to even
  EXPECT_EQ(quant::dequantize(q), (std::vector<float>{-1, -0.5f, 0, 0.5f, 1, 2.75f, 1.5f, 0}));
}

std::vector<uint8_t> bytes_of(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(float));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<float> f32_of(const TensorView& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  convert_to_f32(t.dtype, t.data, v.data(), v.size());
  return v;
}

// All-position logits of one sequence.
std::vector<float> logits_of(const io::ModelConfig& c, std::shared_ptr<const io::WeightStore> weights,
                             const std::vector<int>& ids) {
  model::LlamaModel m(c, std::move(weights));
  model::KVCache cache(c, 1, int(ids.size()));
  std::vector<model::BatchToken> batch;
  for (size_t i = 0; i < ids.size(); ++i) batch.push_back({ids[i], int(i), 0, true});
  std::vector<float> logits(ids.size() * size_t(c.vocab_size));
  m.forward(batch, cache, logits.data());
  return logits;
}

// Folding the searched scales (no quantization) into the BF16 model must
// leave what it computes unchanged; the scales must be far from 1, or the
// test would prove nothing.
TEST(Awq, FoldingTheScalesKeepsTheLogits) {
  openblas_set_num_threads(1);  // as the layer pipeline runs it: threads split the sequences
  const io::ModelSource src = io::open_model(test::bundled_model());
  const io::ModelConfig& c = src.config;
  const auto tok = tokenizer::load_tokenizer(src);
  const quant::CalibrationSet calib = quant::load_calibration(
      {test::bundled_model() + "/calibration.txt", 4, 128, 0}, *tok, c.max_position_embeddings, c.vocab_size);
  const int64_t T = 128, h = c.hidden_size;
  std::vector<std::vector<float>> x;
  const std::vector<float> embedding = f32_of(src.weights->get("model.embed_tokens.weight"));
  for (const auto& sample : calib.samples) {
    x.emplace_back();
    for (int id : sample) x.back().insert(x.back().end(), &embedding[id * h], &embedding[(id + 1) * h]);
  }

  auto folded = std::make_shared<io::WeightStore>();
  float spread = 1;
  quant::AwqOptions options;
  options.clip = false;
  for (int l = 0; l < c.num_layers; ++l) {
    quant::CalibrationLayer layer(c, *src.weights, l);
    const quant::TransformedLayer t = quant::awq_transform(layer, x, T, options);
    for (const auto& [name, s] : t.col_scales) {
      const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
      spread = std::max(spread, *hi / *lo);
    }
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* name : quant::kLayerLinears)
      folded->add_owned(p + name + ".weight", DType::F32, {layer.out_features(name), layer.in_features(name)},
                        bytes_of(layer.weight(name)));
    for (const char* norm : {"input_layernorm.weight", "post_attention_layernorm.weight"})
      folded->add_owned(p + norm, DType::F32, {h}, bytes_of(layer.parameter(norm)));
    // The next layer's inputs, through the folded layer.
    for (auto& xs : x) {
      std::vector<float> xn(size_t(T * h)), att(size_t(T * c.q_dim())), act(size_t(T * c.intermediate_size));
      layer.attn_input(xs.data(), T, xn.data());
      layer.attention(xn.data(), T, att.data());
      layer.add_attn_output(att.data(), T, xs.data());
      layer.mlp_input(xs.data(), T, xn.data());
      layer.mlp_hidden(xn.data(), T, act.data());
      layer.add_mlp_output(act.data(), T, xs.data());
    }
  }
  for (const char* name : {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"}) {
    const TensorView& v = src.weights->get(name);
    folded->add_owned(name, DType::F32, v.shape, bytes_of(f32_of(v)));
  }
  EXPECT_GT(spread, 2.0f) << "AWQ chose scales close to 1 everywhere";

  const std::vector<int> ids(calib.samples[1].begin(), calib.samples[1].begin() + 96);
  const std::vector<float> before = logits_of(c, src.weights, ids), after = logits_of(c, folded, ids);
  for (size_t t = 0; t < ids.size(); ++t) {
    const float* a = &before[t * size_t(c.vocab_size)];
    const float* b = &after[t * size_t(c.vocab_size)];
    float largest = 0, diff = 0;
    for (int v = 0; v < c.vocab_size; ++v) {
      largest = std::max(largest, std::abs(a[v]));
      diff = std::max(diff, std::abs(a[v] - b[v]));
    }
    ASSERT_LE(diff, 1e-4f * largest) << "position " << t;
  }
}

}  // namespace
}  // namespace nibble
