// GGUF models end to end: nibble writes the bundled model as GGUF, reads it
// back with its own tokenizer and config, and must reproduce reference.json
// (an independent PyTorch forward) from the F16 file; the type mixture and
// rotary permutation against formulas re-derived here from llama.cpp's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "formats/gguf_blocks.h"
#include "formats/gguf_model_writer.h"
#include "formats/gguf_test_models.h"
#include "io/gguf_model.h"
#include "model/generate.h"
#include "model/llama.h"
#include "test_paths.h"
#include "tokenizer/load_tokenizer.h"

namespace nibble {
namespace {

using io::GgmlType;
using test::GgufRun;
using test::reference_prompts;

std::string write_bundled(const std::string& type) {
  static const std::string dir = test::temp_dir("gguf_model");
  const std::string path = dir + "/kjv-" + type + ".gguf";
  if (!file_exists(path)) {
    formats::GgufExportOptions o;
    o.file_type = &formats::gguf_file_type(type);
    formats::write_gguf_model(io::open_model(test::bundled_model()), path, o);
  }
  return path;
}

TEST(GgufModel, ConfigAndTokenizerComeFromTheFile) {
  const io::ModelSource hf = io::open_model(test::bundled_model());
  const io::ModelSource g = io::open_model(write_bundled("F16"));
  EXPECT_EQ(g.format, "gguf");
  EXPECT_EQ(g.config.hidden_size, hf.config.hidden_size);
  EXPECT_EQ(g.config.intermediate_size, hf.config.intermediate_size);
  EXPECT_EQ(g.config.num_layers, hf.config.num_layers);
  EXPECT_EQ(g.config.num_heads, hf.config.num_heads);
  EXPECT_EQ(g.config.num_kv_heads, hf.config.num_kv_heads);
  EXPECT_EQ(g.config.head_dim, hf.config.head_dim);
  EXPECT_EQ(g.config.vocab_size, hf.config.vocab_size);
  EXPECT_EQ(g.config.max_position_embeddings, hf.config.max_position_embeddings);
  EXPECT_DOUBLE_EQ(g.config.rope_theta, hf.config.rope_theta);
  EXPECT_NEAR(g.config.rms_norm_eps, hf.config.rms_norm_eps, 1e-12);
  EXPECT_TRUE(g.config.rope_interleaved);
  EXPECT_FALSE(g.config.tie_word_embeddings);
  auto tok = tokenizer::load_tokenizer(g);
  for (const auto& p : reference_prompts())
    EXPECT_EQ(tok->encode(p["prompt"].get<std::string>(), true), p["prompt_ids"].get<std::vector<int>>());
}

TEST(GgufModel, F16FileReproducesTheReference) {
  GgufRun run(write_bundled("F16"));
  model::LlamaModel& m = *run.model;
  const int vocab = m.vocab_size();
  std::vector<float> logits(static_cast<size_t>(vocab));
  for (const auto& p : reference_prompts()) {
    const auto ids = p["prompt_ids"].get<std::vector<int>>();
    model::KVCache cache(m.config(), 1, 512);
    model::prefill(m, cache, 0, ids, 0, logits.data());
    for (const auto& entry : p["top10_last_prompt_position"]) {
      const double expected = entry[1].get<double>();
      EXPECT_NEAR(logits[entry[0].get<int>()], expected, 2e-3 * std::abs(expected) + 2e-3) << p["prompt"];
    }
    const auto expected = p["greedy_ids"].get<std::vector<int>>();
    int pos = int(ids.size());
    for (size_t step = 0; step < expected.size(); ++step) {
      const int token = model::argmax(logits.data(), vocab);
      ASSERT_EQ(token, expected[step]) << p["prompt"] << " step " << step;
      std::vector<model::BatchToken> batch{{token, pos++, 0, true}};
      m.forward(batch, cache, logits.data());
    }
  }
}

TEST(GgufModel, QuantizedFilesLoadWithTheirKernelsAndAgreeWithTheHfModel) {
  const io::ModelSource hf = io::open_model(test::bundled_model());
  model::LlamaModel dense(hf.config, hf.weights);
  const auto prompt = reference_prompts()[0]["prompt_ids"].get<std::vector<int>>();
  std::vector<float> want(static_cast<size_t>(dense.vocab_size())), got(want.size());
  model::KVCache c0(dense.config(), 1, 64);
  model::prefill(dense, c0, 0, prompt, 0, want.data());
  for (const char* type : {"Q8_0", "Q4_0", "Q4_K_M", "Q5_1", "Q3_K_M"}) {
    GgufRun run(write_bundled(type));
    model::KVCache c(run.model->config(), 1, 64);
    model::prefill(*run.model, c, 0, prompt, 0, got.data());
    double err = 0, norm = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      err += (got[i] - want[i]) * (got[i] - want[i]);
      norm += want[i] * want[i];
    }
    EXPECT_LT(std::sqrt(err / norm), std::string(type) == "Q8_0" ? 0.01 : 0.15) << type;
    EXPECT_EQ(model::argmax(got.data(), int(got.size())), model::argmax(want.data(), int(want.size()))) << type;
  }
}

// Acceptance check: llama.cpp itself (node-llama-cpp's prebuilt binaries)
// loads the files nibble writes and continues the prompts as nibble does:
// F16 and Q8_0 for all 48 tokens, Q4_0 and Q4_K_M for at least 16.
TEST(GgufLlamaCppInterop, LlamaCppGreedyDecodesLikeNibble) {
  const std::vector<std::pair<std::string, size_t>> files = {
      {"F16", 48}, {"Q8_0", 48}, {"Q4_0", 16}, {"Q4_K_M", 16}};
  std::vector<std::string> paths;
  for (const auto& [type, n] : files) paths.push_back(write_bundled(type));
  const nlohmann::json llama = test::llama_cpp_greedy(paths, 48);
  ASSERT_FALSE(llama.is_null());
  for (const auto& [type, must_match] : files) {
    const std::string path = write_bundled(type);
    test::expect_same_greedy(llama.at(path).get<std::vector<std::vector<int>>>(), test::nibble_greedy(path, 48),
                             must_match, type);
  }
}

// llama.cpp's use_more_bits, re-derived: first and last eighth, every third between.
bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

TEST(GgufTypeRules, Q4KMMixtureOfA32LayerModel) {
  io::ModelConfig c;
  c.num_layers = 32;
  c.num_heads = 32;
  c.num_kv_heads = 32;
  const auto& f = formats::gguf_file_type("Q4_K_M");
  EXPECT_EQ(f.llama_ftype, 15);
  int v6 = 0, down6 = 0;
  for (int l = 0; l < 32; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const GgmlType v = formats::gguf_tensor_type(f, p + "attn_v.weight", 4096, 2, c, false);
    const GgmlType d = formats::gguf_tensor_type(f, p + "ffn_down.weight", 11008, 2, c, false);
    EXPECT_EQ(v, more_bits(l, 32) ? GgmlType::Q6_K : GgmlType::Q4_K) << l;
    EXPECT_EQ(d, more_bits(l, 32) ? GgmlType::Q6_K : GgmlType::Q4_K) << l;
    v6 += v == GgmlType::Q6_K;
    down6 += d == GgmlType::Q6_K;
    EXPECT_EQ(formats::gguf_tensor_type(f, p + "attn_q.weight", 4096, 2, c, false), GgmlType::Q4_K);
    EXPECT_EQ(formats::gguf_tensor_type(f, p + "attn_norm.weight", 4096, 1, c, false), GgmlType::F32);
  }
  EXPECT_EQ(v6, 16);  // llama-2-7b Q4_K_M: half of attn_v and ffn_down in Q6_K
  EXPECT_EQ(down6, 16);
  EXPECT_EQ(formats::gguf_tensor_type(f, "output.weight", 4096, 2, c, false), GgmlType::Q6_K);
  EXPECT_EQ(formats::gguf_tensor_type(f, "token_embd.weight", 4096, 2, c, false), GgmlType::Q4_K);
  c.tie_word_embeddings = true;  // the embedding doubles as the output
  EXPECT_EQ(formats::gguf_tensor_type(f, "token_embd.weight", 4096, 2, c, false), GgmlType::Q6_K);
  // Rows that are not whole super-blocks fall back to 32-wide types.
  EXPECT_EQ(formats::gguf_tensor_type(f, "blk.9.attn_q.weight", 320, 2, c, false), GgmlType::Q5_0);
  EXPECT_EQ(formats::gguf_tensor_type(f, "output.weight", 320, 2, c, false), GgmlType::Q8_0);
  EXPECT_EQ(formats::gguf_tensor_type(formats::gguf_file_type("Q3_K_S"), "blk.0.attn_q.weight", 320, 2, c, false),
            GgmlType::IQ4_NL);
  EXPECT_EQ(formats::gguf_tensor_type(formats::gguf_file_type("Q4_0"), "output.weight", 4096, 2, c, false),
            GgmlType::Q6_K);
  EXPECT_EQ(formats::gguf_tensor_type(formats::gguf_file_type("Q8_0"), "output.weight", 4096, 2, c, false),
            GgmlType::Q8_0);
  EXPECT_THROW(formats::gguf_file_type("Q4_K_X"), Error);
}

TEST(GgufModelWriter, RotaryPermutationIsConvertHfToGgufsReshape) {
  // permute(w) = w.reshape(heads, 2, hd/2, ...).swapaxes(1, 2).reshape(w.shape)
  const int heads = 3, hd = 8, rows = heads * hd;
  std::vector<uint8_t> data(static_cast<size_t>(rows) * 2);
  for (int r = 0; r < rows; ++r) data[size_t(2 * r)] = data[size_t(2 * r + 1)] = uint8_t(r);
  formats::permute_rotary_rows(data.data(), rows, 2, hd);
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < hd / 2; ++i)
      for (int j = 0; j < 2; ++j) {
        const int out_row = (h * (hd / 2) + i) * 2 + j;  // index of [h, i, j] after the swap
        const int in_row = (h * 2 + j) * (hd / 2) + i;   // index of [h, j, i] before
        EXPECT_EQ(data[size_t(2 * out_row)], in_row);
      }
}

TEST(GgufModelWriter, FileNamesTensorsAndMetadataLikeConvertHfToGguf) {
  const io::GgufFile f(write_bundled("Q4_K_M"));
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_uint("general.file_type"), 15u);
  EXPECT_EQ(f.get_uint("llama.block_count"), 4u);
  EXPECT_EQ(f.get_uint("llama.attention.head_count_kv"), 2u);
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f.tensor("output.weight").type, GgmlType::Q6_K);
  EXPECT_EQ(f.tensor("blk.0.attn_norm.weight").type, GgmlType::F32);
  for (int l = 0; l < 4; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    EXPECT_EQ(f.tensor(p + "ffn_down.weight").type, more_bits(l, 4) ? GgmlType::Q6_K : GgmlType::Q4_K);
    EXPECT_EQ(f.tensor(p + "attn_q.weight").type, GgmlType::Q4_K);
  }
  EXPECT_EQ(f.tensor("blk.1.attn_q.weight").shape(), (std::vector<int64_t>{256, 256}));
}

TEST(GgufModel, UnsupportedArchitectureAndMissingTensorsAreNamed) {
  const std::string dir = test::temp_dir("gguf_model_bad");
  io::GgufWriter w;
  w.add("general.architecture", io::GgufValue::string("falcon"));
  w.write(dir + "/falcon.gguf");
  try {
    io::open_model(dir + "/falcon.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("general.architecture 'falcon'"), std::string::npos) << e.what();
  }
  // A llama file whose layers lack ffn_down.
  const io::GgufFile good(write_bundled("Q8_0"));
  io::GgufWriter cut;
  for (const auto& [k, v] : good.metadata()) cut.add(k, v);
  for (const auto& t : good.tensors())
    if (t.name != "blk.2.ffn_down.weight")
      cut.add_tensor_view(t.name, t.type, t.ne, std::span<const uint8_t>(t.data, t.nbytes));
  cut.write(dir + "/cut.gguf");
  try {
    GgufRun run(dir + "/cut.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("blk.2.ffn_down.weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nibble
