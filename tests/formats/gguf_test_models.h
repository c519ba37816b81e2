// Shared by the GGUF model tests: running a .gguf file with nibble, greedy
// continuations of the bundled reference prompts (nibble's, with the margin
// between its top two logits, and llama.cpp's through node-llama-cpp), and
// their comparison.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/files.h"
#include "formats/gguf_linear_loader.h"
#include "formats/linear_loaders.h"
#include "io/model_source.h"
#include "model/generate.h"
#include "model/llama.h"
#include "test_paths.h"

namespace nibble::test {

// A model opened from a GGUF file (or an HF directory), ready to run.
struct GgufRun {
  io::ModelSource source;
  std::unique_ptr<model::LlamaModel> model;
  explicit GgufRun(const std::string& path) : source(io::open_model(path)) {
    formats::dequantize_gguf_embedding(source);
    model = std::make_unique<model::LlamaModel>(source.config, source.weights,
                                                formats::linear_loader_for(source));
  }
};

// The bundled model's reference prompts (prompt_ids, greedy_ids, top10_last_prompt_position).
inline const nlohmann::json& reference_prompts() {
  static const nlohmann::json ref =
      nlohmann::json::parse(read_text_file(bundled_model() + "/reference.json"));
  return ref.at("prompts");
}

// Greedy continuation of one prompt, with nibble's top-2 logit margin at each step.
struct Greedy {
  std::vector<int> tokens;
  std::vector<float> margins;
};

// nibble's greedy continuation of each reference prompt by the model at `path`.
inline std::vector<Greedy> nibble_greedy(const std::string& path, size_t steps) {
  GgufRun run(path);
  model::LlamaModel& m = *run.model;
  std::vector<float> logits(static_cast<size_t>(m.vocab_size()));
  std::vector<Greedy> out;
  for (const auto& p : reference_prompts()) {
    const auto ids = p["prompt_ids"].get<std::vector<int>>();
    model::KVCache cache(m.config(), 1, 512);
    model::prefill(m, cache, 0, ids, 0, logits.data());
    Greedy g;
    for (int pos = int(ids.size()); g.tokens.size() < steps; ++pos) {
      g.tokens.push_back(model::argmax(logits.data(), m.vocab_size()));
      std::vector<float> sorted(logits);
      std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
      g.margins.push_back(sorted[0] - sorted[1]);
      std::vector<model::BatchToken> batch{{g.tokens.back(), pos, 0, true}};
      m.forward(batch, cache, logits.data());
    }
    out.push_back(std::move(g));
  }
  return out;
}

// llama.cpp's greedy continuations (tests/js/llama_cpp_greedy.mjs) of the
// reference prompts for each file: {"<file>": [[ids...], ...]}, or null
// after a test failure.
inline nlohmann::json llama_cpp_greedy(const std::vector<std::string>& files, size_t steps) {
  if (!std::filesystem::exists(source_dir("tests/js") + "/node_modules/node-llama-cpp/package.json")) {
    ADD_FAILURE() << "tests/js/node_modules is missing: run `npm ci` in tests/js";
    return nullptr;
  }
  std::string cmd = "cd " + source_dir("tests/js") + " && timeout 300 node llama_cpp_greedy.mjs " +
                    bundled_model() + "/reference.json " + std::to_string(steps);
  for (const std::string& f : files) cmd.append(" ").append(f);
  std::string out;
  if (run_command(cmd + " 2>&1", &out) != 0 || out.find('{') == std::string::npos) {
    ADD_FAILURE() << cmd << ": " << out;
    return nullptr;
  }
  return nlohmann::json::parse(out.substr(out.find('{')));
}

// llama.cpp's continuations must equal nibble's for `must_match` tokens of
// each prompt, near ties included: GGUF models run with llama.cpp's
// activation blocks and attention order (io::ModelConfig::
// llama_cpp_attention). On a failure the message gives nibble's top-2
// margin where they part. llama.cpp stops early at an end-of-generation
// token; agreeing up to it counts as agreement.
inline void expect_same_greedy(const std::vector<std::vector<int>>& theirs, const std::vector<Greedy>& ours,
                               size_t must_match, const std::string& what) {
  ASSERT_EQ(theirs.size(), ours.size()) << what;
  for (size_t p = 0; p < ours.size(); ++p) {
    const std::vector<int>& mine = ours[p].tokens;
    size_t same = 0;
    while (same < mine.size() && same < theirs[p].size() && mine[same] == theirs[p][same]) ++same;
    if (same == theirs[p].size() && same > 0) continue;  // stopped at an end-of-generation token
    EXPECT_GE(same, must_match) << what << " prompt " << p << ": llama.cpp and nibble agree on " << same
                                << " tokens; nibble's top-2 margin there: "
                                << (same < mine.size() ? ours[p].margins[same] : 0.0f);
  }
}

}  // namespace nibble::test
