// The quantizer's staged layer runner, chained over all layers, must
// reproduce reference.json's logits: it is a second forward pass, and the
// GPTQ/AWQ statistics are only right if it is.
#include <gtest/gtest.h>

#include <cblas.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "io/model_source.h"
#include "model/ops.h"
#include "quant/calibration_layer.h"
#include "test_paths.h"

namespace nibble::quant {
namespace {

TEST(CalibrationLayer, ChainedStagesReproduceTheReferenceLogits) {
  const io::ModelSource src = io::open_model(test::bundled_model());
  const io::ModelConfig& c = src.config;
  const auto ref = nlohmann::json::parse(read_text_file(test::bundled_model() + "/reference.json"));
  const auto& prompt = ref["prompts"][3];  // the long one
  const auto ids = prompt["prompt_ids"].get<std::vector<int>>();
  const int64_t T = int64_t(ids.size()), h = c.hidden_size;
  std::vector<float> x(size_t(T * h)), xn(size_t(T * h)), att(size_t(T * c.q_dim())),
      act(size_t(T * c.intermediate_size));
  const TensorView& emb = src.weights->get("model.embed_tokens.weight");
  for (int64_t t = 0; t < T; ++t)
    convert_to_f32(emb.dtype, static_cast<const uint16_t*>(emb.data) + ids[t] * h, &x[t * h], size_t(h));
  for (int l = 0; l < c.num_layers; ++l) {
    CalibrationLayer layer(c, *src.weights, l);
    layer.attn_input(x.data(), T, xn.data());
    layer.attention(xn.data(), T, att.data());
    layer.add_attn_output(att.data(), T, x.data());
    layer.mlp_input(x.data(), T, xn.data());
    layer.mlp_hidden(xn.data(), T, act.data());
    layer.add_mlp_output(act.data(), T, x.data());
  }
  std::vector<float> norm(static_cast<size_t>(h)), last(static_cast<size_t>(h)), head;
  convert_to_f32(DType::BF16, src.weights->get("model.norm.weight").data, norm.data(), norm.size());
  model::rmsnorm(&x[(T - 1) * h], norm.data(), h, c.rms_norm_eps, last.data());
  const TensorView& lm = src.weights->get("lm_head.weight");
  head.resize(size_t(lm.numel()));
  convert_to_f32(lm.dtype, lm.data, head.data(), head.size());
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));
  cblas_sgemv(CblasRowMajor, CblasNoTrans, c.vocab_size, int(h), 1.0f, head.data(), int(h),
              last.data(), 1, 0.0f, logits.data(), 1);
  // The linears multiply bf16-rounded operands (2^-9 relative each), which
  // moves these logits by up to ~0.3% after the four layers; a stage that
  // computed the wrong thing would move them by far more.
  for (const auto& e : prompt["top10_last_prompt_position"])
    EXPECT_NEAR(logits[e[0].get<int>()], e[1].get<double>(), 1e-2 * std::abs(e[1].get<double>()));
}

}  // namespace
}  // namespace nibble::quant
