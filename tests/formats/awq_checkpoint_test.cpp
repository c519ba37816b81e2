// AutoAWQ GEMM checkpoints: written by the checkpoint writer, read back by a
// decoder of specs/awq.md §9 written here, loaded by nibble's model, and the
// configuration AutoAWQ, transformers and vLLM read.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/half.h"
#include "formats/awq_checkpoint.h"
#include "formats/gptq_checkpoint.h"
#include "formats/linear_loaders.h"
#include "io/model_source.h"
#include "io/safetensors.h"
#include "model/kv_cache.h"
#include "model/llama.h"
#include "quant/rtn.h"
#include "test_paths.h"

namespace nibble {
namespace {

using nlohmann::json;

std::vector<float> f32_of(const TensorView& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  convert_to_f32(t.dtype, t.data, v.data(), v.size());
  return v;
}

// Spec §9: Wt[k][n] = (q − z) · s, with output column 8c + j in nibble REV[j].
std::vector<float> decode_gemm(const io::SafetensorsFile& f, const std::string& p, int64_t g) {
  static const int kRev[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  const TensorView &qweight = f.tensor(p + ".qweight"), &qzeros = f.tensor(p + ".qzeros"),
                   &scales = f.tensor(p + ".scales");
  EXPECT_EQ(qweight.dtype, DType::I32);
  EXPECT_EQ(qzeros.dtype, DType::I32);
  EXPECT_EQ(scales.dtype, DType::F16);
  const int64_t K = qweight.dim(0), N = qweight.dim(1) * 8;
  EXPECT_EQ(qzeros.shape, (std::vector<int64_t>{K / g, N / 8}));
  EXPECT_EQ(scales.shape, (std::vector<int64_t>{K / g, N}));
  const auto* qw = static_cast<const uint32_t*>(qweight.data);
  const auto* qz = static_cast<const uint32_t*>(qzeros.data);
  const auto* sc = static_cast<const uint16_t*>(scales.data);
  std::vector<float> W(static_cast<size_t>(N * K));  // [N, K] like the source weight
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) {
      const int shift = 4 * kRev[n % 8];
      const uint32_t q = (qw[k * (N / 8) + n / 8] >> shift) & 0xF;
      const uint32_t z = (qz[(k / g) * (N / 8) + n / 8] >> shift) & 0xF;
      W[size_t(n * K + k)] = (float(q) - float(z)) * f16_to_f32(sc[(k / g) * N + n]);
    }
  return W;
}

std::vector<float> logits_of(const std::string& dir, const std::vector<int>& ids) {
  const io::ModelSource src = io::open_model(dir);
  model::LlamaModel m(src.config, src.weights, formats::linear_loader_for(src));
  model::KVCache cache(src.config, 1, int(ids.size()));
  std::vector<model::BatchToken> batch;
  for (size_t i = 0; i < ids.size(); ++i) batch.push_back({ids[i], int(i), 0, true});
  std::vector<float> logits(ids.size() * size_t(src.config.vocab_size));
  m.forward(batch, cache, logits.data());
  return logits;
}

// The same quantized layers written as AWQ and as GPTQ: the AWQ files decode
// (by the spec) to exactly the quantized weights, a changed norm is stored in
// f32 in place of the source's, and both checkpoints run to the same logits.
TEST(AwqCheckpoint, FilesHoldExactlyTheQuantizedWeightsAndRunLikeGptq) {
  const io::ModelSource src = io::open_model(test::bundled_model());
  const std::string dir = test::temp_dir("awq-ckpt");
  formats::AwqCheckpointWriter awq(src, dir + "/awq", {128, {{"test", true}}}, false);
  formats::GptqExportConfig gc;
  gc.symmetric = false;
  formats::GptqCheckpointWriter gptq(src, dir + "/gptq", gc, false);
  std::map<std::string, std::vector<float>> expected;
  const std::string norm = "model.layers.1.input_layernorm.weight";
  std::vector<float> halved_norm = f32_of(src.weights->get(norm));
  for (float& v : halved_norm) v *= 0.5f;
  for (int l = 0; l < src.config.num_layers; ++l) {
    quant::LayerResult layer;
    layer.layer = l;
    for (const char* name : quant::kLayerLinears) {
      const std::string p = "model.layers." + std::to_string(l) + "." + name;
      const TensorView& w = src.weights->get(p + ".weight");
      const std::vector<float> W = f32_of(w);
      layer.linears[p] = quant::rtn_quantize(W.data(), w.dim(0), w.dim(1), {4, 128, false});
      expected[p] = quant::dequantize(layer.linears[p]);
    }
    if (l == 1) layer.parameters[norm] = halved_norm;
    awq.write_layer(layer);
    gptq.write_layer(layer);
  }
  awq.finish();
  gptq.finish();

  io::SafetensorsFile f(dir + "/awq/model.safetensors");
  for (const auto& [p, W] : expected) {
    EXPECT_FALSE(f.has(p + ".weight")) << p;
    EXPECT_FALSE(f.has(p + ".g_idx")) << p;
    EXPECT_EQ(decode_gemm(f, p, 128), W) << p;
  }
  EXPECT_EQ(f.tensor(norm).dtype, DType::F32);
  EXPECT_EQ(f32_of(f.tensor(norm)), halved_norm);
  EXPECT_EQ(f.tensor("model.layers.0.input_layernorm.weight").dtype, DType::BF16);  // unchanged: as in the source

  const json config = json::parse(read_text_file(dir + "/awq/config.json"));
  json qc = config["quantization_config"];
  EXPECT_EQ(qc["nibble"], (json{{"test", true}}));
  qc.erase("nibble");
  EXPECT_EQ(qc, (json{{"quant_method", "awq"}, {"zero_point", true}, {"group_size", 128}, {"bits", 4},
                      {"version", "gemm"}, {"modules_to_not_convert", nullptr}}));
  EXPECT_EQ(json::parse(read_text_file(dir + "/awq/quant_config.json")),
            (json{{"zero_point", true}, {"q_group_size", 128}, {"w_bit", 4}, {"version", "GEMM"},
                  {"modules_to_not_convert", nullptr}}));
  EXPECT_TRUE(file_exists(dir + "/awq/tokenizer.model"));

  const std::vector<int> ids = {1, 37, 92, 400, 12, 7, 300, 55, 2, 19};
  EXPECT_EQ(logits_of(dir + "/awq", ids), logits_of(dir + "/gptq", ids));
}

TEST(AwqCheckpoint, QuantizeWritesARunnableAwqCheckpoint) {
  const std::string out = test::temp_dir("awq-ckpt") + "/q";
  std::string log;
  ASSERT_EQ(test::run_command(test::cli_path() + " quantize -m " + test::bundled_model() +
                                  " --method awq --nsamples 4 --seqlen 64 -o " + out,
                              &log),
            0)
      << log;
  EXPECT_NE(log.find("awq input_layernorm -> q_proj,k_proj,v_proj"), std::string::npos) << log;
  EXPECT_EQ(json::parse(read_text_file(out + "/config.json"))["quantization_config"]["quant_method"], "awq");
  io::SafetensorsFile f(out + "/model.safetensors");
  EXPECT_EQ(f.tensor("model.layers.0.mlp.down_proj.qweight").shape, (std::vector<int64_t>{768, 32}));
  // The folded scales: norms in f32, no longer all the source's.
  const io::ModelSource src = io::open_model(test::bundled_model());
  int changed = 0;
  for (int l = 0; l < 4; ++l)
    for (const char* norm : {"input_layernorm.weight", "post_attention_layernorm.weight"}) {
      const std::string name = "model.layers." + std::to_string(l) + "." + norm;
      EXPECT_EQ(f.tensor(name).dtype, DType::F32) << name;
      changed += f32_of(f.tensor(name)) != f32_of(src.weights->get(name));
    }
  EXPECT_GT(changed, 0);
  ASSERT_EQ(test::run_command(test::cli_path() + " generate -m " + out + " -p 'In the beginning' -n 8", &log), 0)
      << log;
}

TEST(AwqCheckpoint, RefusesWhatTheGemmLayoutCannotHold) {
  std::string log;
  const std::string base = test::cli_path() + " quantize -m " + test::bundled_model() + " -o " +
                           test::temp_dir("awq-ckpt") + "/q --format awq ";
  EXPECT_EQ(test::run_command(base + "--method awq --bits 3", &log), 1);
  EXPECT_NE(log.find("--bits 4"), std::string::npos) << log;
  EXPECT_EQ(test::run_command(base + "--method rtn --sym", &log), 1);
  EXPECT_NE(log.find("no --sym"), std::string::npos) << log;
}

}  // namespace
}  // namespace nibble
