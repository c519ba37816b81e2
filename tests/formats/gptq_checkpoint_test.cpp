// GPTQ checkpoints written by `nibble quantize`, read back by a decoder of
// specs/gptq.md §7–§8 written here (not the project's codec), and the
// files the loaders of vLLM/transformers look for.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/half.h"
#include "io/safetensors.h"
#include "test_paths.h"

namespace nibble {
namespace {

using nlohmann::json;

// Field `index` of a little-endian stream of b-bit fields stored in int32
// words, `stride` apart (qweight: along K, stride N; qzeros: along N, stride 1).
uint32_t field(const int32_t* words, int64_t stride, int64_t index, int bits) {
  const int64_t bit = int64_t(bits) * index;
  const int64_t word = bit / 32, shift = bit % 32;
  uint64_t window = uint32_t(words[word * stride]);
  if (shift + bits > 32) window |= uint64_t(uint32_t(words[(word + 1) * stride])) << 32;
  return uint32_t(window >> shift) & ((1u << bits) - 1);
}

std::vector<float> f32_of(const TensorView& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  convert_to_f32(t.dtype, t.data, v.data(), v.size());
  return v;
}

// lm_head_bits: 0 keeps lm_head dense, else `--lm-head-bits`.
void check_checkpoint(int bits, bool sym, int lm_head_bits = 0) {
  const std::string out = test::temp_dir("gptq-ckpt") + "/q";
  std::string log;
  ASSERT_EQ(test::run_command(test::cli_path() + " quantize -m " + test::bundled_model() +
                                  " --method rtn --bits " + std::to_string(bits) +
                                  " --group-size 128 -o " + out + (sym ? " --sym" : "") +
                                  " --lm-head-bits " + std::to_string(lm_head_bits),
                              &log),
            0)
      << log;
  const json config = json::parse(read_text_file(out + "/config.json"));
  const json qc = config["quantization_config"];
  json without_report = qc;
  without_report.erase("nibble");  // config.json adds how it was made
  EXPECT_EQ(without_report, json::parse(read_text_file(out + "/quantize_config.json")));
  EXPECT_EQ(qc["bits"], bits);
  for (const char* key : {"bits", "group_size", "sym", "desc_act", "quant_method", "checkpoint_format"})
    EXPECT_TRUE(qc.contains(key)) << key;
  EXPECT_EQ(qc["quant_method"], "gptq");
  EXPECT_EQ(qc["checkpoint_format"], sym ? "gptq" : "gptq_v2");
  EXPECT_TRUE(file_exists(out + "/tokenizer.model"));
  EXPECT_FALSE(is_directory(out + "/.partial"));

  io::SafetensorsFile q(out + "/model.safetensors");
  io::SafetensorsFile original(test::bundled_model() + "/model.safetensors");
  EXPECT_TRUE(q.has("model.embed_tokens.weight"));
  EXPECT_EQ(q.has("lm_head.weight"), lm_head_bits == 0);
  EXPECT_EQ(qc["lm_head"], lm_head_bits != 0);
  if (lm_head_bits != 0 && lm_head_bits != bits) {
    // vLLM's and GPTQModel's per-module override.
    EXPECT_EQ(qc["dynamic"], json::parse(R"({"+:lm_head": {"bits": )" + std::to_string(lm_head_bits) + "}}"));
    EXPECT_EQ(config["tie_word_embeddings"], false);
  }
  EXPECT_FALSE(q.has("model.layers.0.mlp.up_proj.weight"));
  const bool v1 = qc["checkpoint_format"] == "gptq";
  const int outer_bits = bits;
  int linears = 0;
  for (const auto& [name, qweight] : q.tensors()) {
    if (name.find(".qweight") == std::string::npos) continue;
    ++linears;
    const std::string p = name.substr(0, name.size() - 8);
    const int bits = p == "lm_head" ? lm_head_bits : outer_bits;
    const TensorView& qzeros = q.tensor(p + ".qzeros");
    const TensorView& scales = q.tensor(p + ".scales");
    const TensorView& g_idx = q.tensor(p + ".g_idx");
    const std::vector<float> W = f32_of(original.tensor(p + ".weight"));
    const int64_t N = scales.dim(1), K = g_idx.dim(0);
    ASSERT_EQ(qweight.dtype, DType::I32);
    ASSERT_EQ(qweight.shape, (std::vector<int64_t>{K * bits / 32, N}));
    ASSERT_EQ(qzeros.shape, (std::vector<int64_t>{scales.dim(0), N * bits / 32}));
    ASSERT_EQ(scales.dtype, DType::F16);
    const auto* qw = static_cast<const int32_t*>(qweight.data);
    const auto* qz = static_cast<const int32_t*>(qzeros.data);
    const auto* sc = static_cast<const uint16_t*>(scales.data);
    const auto* gi = static_cast<const int32_t*>(g_idx.data);
    for (int64_t k = 0; k < K; ++k) {
      ASSERT_EQ(gi[k], k / 128);
      for (int64_t n = 0; n < N; ++n) {
        const int t = gi[k];
        // qweight packs along K: word (k / 32) * bits, stride N.
        const uint32_t code = field(qw + (k / 32) * bits * N + n, N, k % 32, bits);
        const uint32_t zfield = field(qz + t * (N * bits / 32) + (n / 32) * bits, 1, n % 32, bits);
        const float z = float(v1 ? zfield + 1 : zfield);
        const float s = f16_to_f32(sc[t * N + n]);
        const float w = W[size_t(n * K + k)];
        const float deq = s * (float(code) - z);
        if (sym) {
          ASSERT_EQ(z, float(1 << (bits - 1)));
        }
        // Round-to-nearest: within half a step, unless clipped at the grid's edge.
        const bool clipped = code == 0 || code == uint32_t((1 << bits) - 1);
        if (!clipped) {
          ASSERT_LE(std::abs(deq - w), 0.5001f * s) << p << " k=" << k << " n=" << n;
        }
      }
    }
  }
  EXPECT_EQ(linears, lm_head_bits == 0 ? 28 : 29);
  // The model runs with the per-module bits.
  ASSERT_EQ(test::run_command(test::cli_path() + " bench -m " + out +
                                  " --prompt-tokens 4 --decode-tokens 2 --repeats 1",
                              &log),
            0)
      << log;
  const std::string lm_head_format =
      lm_head_bits == 0 ? "bf16" : "w" + std::to_string(lm_head_bits) + "g128";
  EXPECT_NE(log.find("lm_head: " + lm_head_format + ")"), std::string::npos) << log;
}

TEST(GptqCheckpoint, IndependentDecoderRecoversAsymmetric4Bit) { check_checkpoint(4, false); }
TEST(GptqCheckpoint, IndependentDecoderRecoversSymmetric4Bit) { check_checkpoint(4, true); }
TEST(GptqCheckpoint, IndependentDecoderRecovers3BitPacking) { check_checkpoint(3, false); }
TEST(GptqCheckpoint, LmHeadQuantizedAt8BitsBesideA4BitBody) { check_checkpoint(4, false, 8); }

TEST(GptqCheckpoint, RefusesToOverwriteOrResumeBlindly) {
  const std::string out = test::temp_dir("gptq-ckpt") + "/q";
  const std::string base = test::cli_path() + " quantize -m " + test::bundled_model() +
                           " --method rtn -o " + out;
  std::string log;
  ASSERT_EQ(test::run_command(base, &log), 0) << log;
  EXPECT_EQ(test::run_command(base, &log), 1);
  EXPECT_NE(log.find("already holds a complete checkpoint"), std::string::npos) << log;
}

}  // namespace
}  // namespace nibble
