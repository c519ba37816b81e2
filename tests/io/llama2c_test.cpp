// llama2.c checkpoints: the test writes the bundled model in llama2.c's
// layout (f32, Q/K rows permuted to its interleaved RoPE pairs, as Meta's
// original checkpoints are) and checks the logits equal the HF model's.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "core/error.h"
#include "io/model_source.h"
#include "model/generate.h"
#include "model/llama.h"
#include "test_paths.h"

namespace nibble {
namespace {

std::vector<float> as_f32(const TensorView& t) {
  std::vector<float> out(size_t(t.numel()));
  convert_to_f32(t.dtype, t.data, out.data(), out.size());
  return out;
}

// HF rotates dims (i, i + d/2) of each head; llama2.c rotates (2i, 2i + 1).
std::vector<float> to_interleaved(const std::vector<float>& w, int heads, int head_dim, int cols) {
  std::vector<float> out(w.size());
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < head_dim / 2; ++i)
      for (int half = 0; half < 2; ++half) {
        const float* src = &w[size_t(h * head_dim + i + half * head_dim / 2) * cols];
        std::copy_n(src, cols, &out[size_t(h * head_dim + 2 * i + half) * cols]);
      }
  return out;
}

std::string write_llama2c(const io::ModelSource& hf, bool shared_classifier) {
  const io::ModelConfig& c = hf.config;
  const std::string path = test::temp_dir("llama2c") + "/model.bin";
  std::ofstream out(path, std::ios::binary);
  const int32_t header[7] = {c.hidden_size, c.intermediate_size, c.num_layers, c.num_heads,
                             c.num_kv_heads, shared_classifier ? c.vocab_size : -c.vocab_size,
                             c.max_position_embeddings};
  out.write(reinterpret_cast<const char*>(header), sizeof header);
  auto put = [&](const std::vector<float>& v) {
    out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * 4));
  };
  auto get = [&](const std::string& name) { return as_f32(hf.weights->get(name)); };
  auto layers = [&](const std::string& suffix, auto transform) {
    for (int l = 0; l < c.num_layers; ++l)
      put(transform(get("model.layers." + std::to_string(l) + "." + suffix)));
  };
  auto same = [](std::vector<float> v) { return v; };
  put(get("model.embed_tokens.weight"));
  layers("input_layernorm.weight", same);
  layers("self_attn.q_proj.weight",
         [&](auto v) { return to_interleaved(v, c.num_heads, c.head_dim, c.hidden_size); });
  layers("self_attn.k_proj.weight",
         [&](auto v) { return to_interleaved(v, c.num_kv_heads, c.head_dim, c.hidden_size); });
  layers("self_attn.v_proj.weight", same);
  layers("self_attn.o_proj.weight", same);
  layers("post_attention_layernorm.weight", same);
  layers("mlp.gate_proj.weight", same);
  layers("mlp.down_proj.weight", same);
  layers("mlp.up_proj.weight", same);
  put(get("model.norm.weight"));
  put(std::vector<float>(size_t(c.max_position_embeddings) * c.head_dim, 0.0f));  // RoPE tables
  if (!shared_classifier) put(get("lm_head.weight"));
  return path;
}

std::vector<float> last_logits(const io::ModelSource& src, const std::vector<int>& ids) {
  model::LlamaModel m(src.config, src.weights);
  model::KVCache cache(src.config, 1, 64);
  std::vector<float> logits(size_t(src.config.vocab_size));
  model::prefill(m, cache, 0, ids, 0, logits.data());
  return logits;
}

const std::vector<int> kPrompt = {1, 300, 261, 339, 400, 324, 674, 977};

TEST(Llama2c, UnsharedClassifierGivesTheHfLogits) {
  const io::ModelSource hf = io::open_model(test::bundled_model());
  const io::ModelSource bin = io::open_model(write_llama2c(hf, false));
  EXPECT_EQ(bin.format, "llama2c");
  EXPECT_TRUE(bin.config.rope_interleaved);
  const auto expected = last_logits(hf, kPrompt), got = last_logits(bin, kPrompt);
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_NEAR(got[i], expected[i], 1e-4 * (1 + std::abs(expected[i]))) << i;
}

TEST(Llama2c, SharedClassifierUsesTheEmbedding) {
  const io::ModelSource hf = io::open_model(test::bundled_model());
  const io::ModelSource bin = io::open_model(write_llama2c(hf, true));
  EXPECT_TRUE(bin.config.tie_word_embeddings);
  EXPECT_FALSE(bin.weights->has("lm_head.weight"));
  // Logits of a tied model: final hidden state times the embedding matrix.
  // Check against the HF model with lm_head replaced by the embedding.
  io::WeightStore tied;
  for (const std::string& name : hf.weights->names()) {
    if (name == "lm_head.weight") continue;
    const TensorView& t = hf.weights->get(name);
    const auto* p = static_cast<const uint8_t*>(t.data);
    tied.add_owned(name, t.dtype, t.shape, std::vector<uint8_t>(p, p + t.nbytes));
  }
  io::ModelSource tied_src = hf;
  tied_src.config.tie_word_embeddings = true;
  tied_src.weights = std::make_shared<io::WeightStore>(std::move(tied));
  const auto expected = last_logits(tied_src, kPrompt), got = last_logits(bin, kPrompt);
  for (size_t i = 0; i < expected.size(); ++i)
    ASSERT_NEAR(got[i], expected[i], 1e-4 * (1 + std::abs(expected[i]))) << i;
}

TEST(Llama2c, TruncatedOrBogusFilesAreCleanErrors) {
  const io::ModelSource hf = io::open_model(test::bundled_model());
  const std::string path = write_llama2c(hf, false);
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  for (size_t n : {size_t(0), size_t(10), size_t(28), size_t(1000), bytes.size() / 2, bytes.size() - 4}) {
    const std::string cut = test::temp_dir("l2c") + "/cut.bin";
    std::ofstream(cut, std::ios::binary).write(bytes.data(), std::streamsize(n));
    EXPECT_THROW(io::open_model(cut), Error) << n;
  }
  const std::string zeros = test::temp_dir("l2c") + "/zeros.bin";
  std::ofstream(zeros, std::ios::binary) << std::string(4096, '\0');
  EXPECT_THROW(io::open_model(zeros), Error);
}

}  // namespace
}  // namespace nibble
