// quantize --adapter merges a LoRA adapter into each decoder layer as the
// layer pipeline reads it. The oracle is the same quantization of the model
// `nibble merge-lora --dtype f32` writes (merged in f32, as the pipeline
// merges): the checkpoints must be byte-identical. A killed adapter run
// resumes to the same checkpoint, and a changed adapter is refused. With
// --format gguf the same holds for each tensor of the GGUF file.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/files.h"
#include "io/gguf.h"
#include "io/model_source.h"
#include "io/safetensors.h"
#include "lora/peft_adapter.h"
#include "lora/test_adapter.h"
#include "test_paths.h"

namespace nibble::lora {
namespace {

using namespace test_adapter;

std::string command_line(const std::vector<std::string>& args) {
  std::string command;
  for (const auto& a : args) command += a + " ";
  return command;
}

// quantize MODEL -o OUT with a small calibration set, plus `extra` options.
std::vector<std::string> quantize_args(const std::string& model, const std::string& out,
                                       std::vector<std::string> extra) {
  std::vector<std::string> args = {test::cli_path(), "quantize", "-m", model, "-o", out, "--calib",
                                   test::testdata("kjv/calib.txt"), "--seed", "3"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

bool same_file(const std::string& a, const std::string& b) { return read_text_file(a) == read_text_file(b); }

// Quantizes the base with --adapter and the f32-merged model with the same
// options; the checkpoints' tensors must be byte-identical.
void check_streamed_merge_equals_merged_model(std::vector<std::string> options) {
  const io::ModelSource base = io::open_model(test::bundled_model());
  const std::string dir = test::temp_dir("lora-stream");
  const std::string adapter = dir + "/adapter";
  write_adapter(adapter, adapter_config(), base, 4);
  std::string log;
  ASSERT_EQ(test::run_command(test::cli_path() + " merge-lora -m " + test::bundled_model() + " --adapter " +
                                  adapter + " -o " + dir + "/merged --dtype f32", &log), 0) << log;
  options.insert(options.end(), {"--nsamples", "4", "--seqlen", "64", "--no-clip"});
  ASSERT_EQ(test::run_command(command_line(quantize_args(dir + "/merged", dir + "/from-merged", options)), &log), 0)
      << log;
  options.insert(options.end(), {"--adapter", adapter});
  ASSERT_EQ(test::run_command(command_line(quantize_args(test::bundled_model(), dir + "/streamed", options)), &log), 0)
      << log;
  EXPECT_NE(log.find("merged into each layer as it is read"), std::string::npos) << log;
  EXPECT_TRUE(same_file(dir + "/from-merged/model.safetensors", dir + "/streamed/model.safetensors"));

  // The checkpoint records which adapter it has merged.
  const nlohmann::json config = nlohmann::json::parse(read_text_file(dir + "/streamed/config.json"));
  const nlohmann::json& recorded = config["quantization_config"]["nibble"]["lora_adapter"];
  EXPECT_EQ(recorded.value("path", ""), std::filesystem::absolute(adapter).string());
  EXPECT_EQ(recorded.value("digest", ""), PeftAdapter(adapter).digest());
  // Nothing else was written beside the outputs (no merged copy of the model).
  std::set<std::string> entries;
  for (const auto& e : std::filesystem::directory_iterator(dir)) entries.insert(e.path().filename().string());
  EXPECT_EQ(entries, (std::set<std::string>{"adapter", "merged", "from-merged", "streamed"}));
}

TEST(LoraQuantize, GptqWithAnAdapterEqualsGptqOfTheF32MergedModel) {
  check_streamed_merge_equals_merged_model({"--method", "gptq"});
}

// --fp-inputs calibrates layer l on a full-precision copy of the layers
// before it: that copy must be merged too.
TEST(LoraQuantize, FullPrecisionInputsAreMergedToo) {
  check_streamed_merge_equals_merged_model({"--method", "gptq", "--fp-inputs"});
}

TEST(LoraQuantize, KilledAdapterRunResumesAndAChangedAdapterIsRefused) {
  const io::ModelSource base = io::open_model(test::bundled_model());
  const std::string dir = test::temp_dir("lora-resume");
  const std::string adapter = dir + "/adapter", whole = dir + "/whole", killed = dir + "/killed";
  write_adapter(adapter, adapter_config(), base, 4);
  // Enough calibration that the run is still going when layer 1 is on disk.
  const std::vector<std::string> options = {"--method", "gptq", "--nsamples", "16", "--seqlen", "256",
                                            "--no-clip", "--adapter", adapter};
  std::string log;
  ASSERT_EQ(test::run_command(command_line(quantize_args(test::bundled_model(), whole, options)), &log), 0) << log;
  ASSERT_TRUE(test::kill_when_file_appears(quantize_args(test::bundled_model(), killed, options),
                                           killed + "/.partial/layer-0001.safetensors"))
      << "the run finished before it could be killed";
  const std::string resume = command_line(quantize_args(test::bundled_model(), killed, options)) + "--resume";

  // Other adapter weights at the same path: refused, naming what changed.
  write_adapter(adapter, adapter_config(), base, 5);
  EXPECT_EQ(test::run_command(resume, &log), 1) << log;
  EXPECT_NE(log.find("/nibble/lora_adapter/digest changed"), std::string::npos) << log;
  // The same adapter elsewhere, and no adapter, are refused too.
  write_adapter(dir + "/elsewhere", adapter_config(), base, 4);
  std::vector<std::string> moved = options;
  moved.back() = dir + "/elsewhere";
  EXPECT_EQ(test::run_command(command_line(quantize_args(test::bundled_model(), killed, moved)) + "--resume", &log), 1)
      << log;
  EXPECT_NE(log.find("/nibble/lora_adapter/path changed"), std::string::npos) << log;
  const std::vector<std::string> no_adapter(options.begin(), options.end() - 2);
  EXPECT_EQ(test::run_command(command_line(quantize_args(test::bundled_model(), killed, no_adapter)) + "--resume", &log),
            1)
      << log;
  EXPECT_NE(log.find("/nibble/lora_adapter changed"), std::string::npos) << log;

  // The original adapter again: the run continues where it stopped.
  write_adapter(adapter, adapter_config(), base, 4);
  ASSERT_EQ(test::run_command(resume, &log), 0) << log;
  EXPECT_NE(log.find("resuming: layers 0-1 are done"), std::string::npos) << log;
  for (const char* file : {"model.safetensors", "config.json", "quantize_config.json"})
    EXPECT_TRUE(same_file(whole + "/" + file, killed + "/" + file)) << file;
}

// The test adapter plus an lm_head pair (a module outside the decoder layers).
void write_adapter_with_lm_head(const std::string& dir, const io::ModelSource& base, uint32_t seed) {
  json config = adapter_config();
  config["target_modules"].push_back("lm_head");
  write_adapter(dir, config, base, seed);
  const std::string weights = dir + "/adapter_model.safetensors";
  {
    io::SafetensorsWriter w;
    io::SafetensorsFile f(weights);
    for (const auto& [name, v] : f.tensors()) w.add_copy(name, v);
    const int64_t vocab = base.config.vocab_size, hidden = base.config.hidden_size;
    w.add("base_model.model.lm_head.lora_A.weight", DType::F32, {kRank, hidden},
          f32_bytes(std::vector<float>(static_cast<size_t>(kRank * hidden), 0.01f)));
    w.add("base_model.model.lm_head.lora_B.weight", DType::F32, {vocab, kRank},
          f32_bytes(std::vector<float>(static_cast<size_t>(vocab * kRank), 0.01f)));
    w.write(weights + ".new");
  }
  std::filesystem::rename(weights + ".new", weights);
}

TEST(LoraQuantize, AdapterOutsideTheDecoderLinearsIsRefused) {
  const io::ModelSource base = io::open_model(test::bundled_model());
  const std::string dir = test::temp_dir("lora-lm-head");
  write_adapter_with_lm_head(dir + "/adapter", base, 6);
  std::string log;
  const std::string out = dir + "/q";
  EXPECT_EQ(test::run_command(command_line(quantize_args(test::bundled_model(), out,
                                                         {"--method", "rtn", "--adapter", dir + "/adapter"})),
                              &log),
            1)
      << log;
  EXPECT_NE(log.find("changes 'lm_head'"), std::string::npos) << log;
  EXPECT_NE(log.find("nibble merge-lora"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(out)) << "nothing is written for a refused adapter";
}

// The tensors of two GGUF files (their metadata differ in general.name).
std::map<std::string, std::string> gguf_tensor_bytes(const std::string& path) {
  const io::GgufFile f(path);
  std::map<std::string, std::string> out;
  for (const io::GgufTensorInfo& t : f.tensors()) {
    std::string key = std::string(io::ggml_type_name(t.type));
    for (int64_t n : t.ne) key.append(" ").append(std::to_string(n));
    out[t.name] = key + ":" + std::string(reinterpret_cast<const char*>(t.data), t.nbytes);
  }
  return out;
}

// --format gguf merges the adapter into every tensor it quantizes, lm_head
// included: llama.cpp's quantizers and GPTQ codes in Q4_0 blocks must give
// the tensors they give the f32-merged model.
TEST(LoraQuantize, GgufWithAnAdapterEqualsGgufOfTheF32MergedModel) {
  const io::ModelSource base = io::open_model(test::bundled_model());
  const std::string dir = test::temp_dir("lora-gguf");
  const std::string adapter = dir + "/adapter";
  write_adapter_with_lm_head(adapter, base, 7);
  std::string log;
  ASSERT_EQ(test::run_command(test::cli_path() + " merge-lora -m " + test::bundled_model() + " --adapter " +
                                  adapter + " -o " + dir + "/merged --dtype f32", &log), 0) << log;
  const std::vector<std::vector<std::string>> runs = {
      {"--type", "Q4_K_M"}, {"--type", "Q4_0", "--method", "gptq", "--nsamples", "4", "--seqlen", "64", "--no-clip"}};
  for (std::vector<std::string> options : runs) {
    const std::string type = options[1];
    options.insert(options.end(), {"--format", "gguf"});
    const std::string merged = dir + "/from-merged-" + type + ".gguf", streamed = dir + "/streamed-" + type + ".gguf";
    ASSERT_EQ(test::run_command(command_line(quantize_args(dir + "/merged", merged, options)), &log), 0) << log;
    std::vector<std::string> with_adapter = options;
    with_adapter.insert(with_adapter.end(), {"--adapter", adapter});
    ASSERT_EQ(test::run_command(command_line(quantize_args(test::bundled_model(), streamed, with_adapter)), &log), 0)
        << log;
    EXPECT_NE(log.find("merged into each tensor as it is read"), std::string::npos) << log;
    const auto want = gguf_tensor_bytes(merged), got = gguf_tensor_bytes(streamed);
    ASSERT_EQ(want.size(), got.size()) << type;
    for (const auto& [name, bytes] : want) EXPECT_TRUE(got.at(name) == bytes) << type << " " << name;
  }
  // The adapter did change the tensors it targets (and only those).
  const std::string plain = dir + "/plain.gguf";
  ASSERT_EQ(test::run_command(command_line(quantize_args(test::bundled_model(), plain,
                                                         {"--type", "Q4_K_M", "--format", "gguf"})), &log), 0)
      << log;
  const auto without = gguf_tensor_bytes(plain), with = gguf_tensor_bytes(dir + "/streamed-Q4_K_M.gguf");
  for (const char* name : {"output.weight", "blk.1.attn_q.weight", "blk.1.attn_v.weight", "blk.1.ffn_down.weight"})
    EXPECT_NE(with.at(name), without.at(name)) << name;
  for (const char* name : {"token_embd.weight", "blk.1.attn_k.weight", "blk.1.ffn_up.weight"})
    EXPECT_EQ(with.at(name), without.at(name)) << name;
  // Nothing else was written beside the outputs (no merged copy of the model).
  std::set<std::string> entries;
  for (const auto& e : std::filesystem::directory_iterator(dir)) entries.insert(e.path().filename().string());
  EXPECT_EQ(entries, (std::set<std::string>{"adapter", "merged", "from-merged-Q4_K_M.gguf", "streamed-Q4_K_M.gguf",
                                            "from-merged-Q4_0.gguf", "streamed-Q4_0.gguf", "plain.gguf"}));
}

}  // namespace
}  // namespace nibble::lora
