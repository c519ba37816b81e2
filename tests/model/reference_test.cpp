// The forward pass against reference.json, computed by an independent F32
// PyTorch implementation of the HF Llama forward from the same BF16 weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "eval/perplexity.h"
#include "io/model_source.h"
#include "model/generate.h"
#include "model/llama.h"
#include "test_paths.h"
#include "tokenizer/load_tokenizer.h"

namespace nibble {
namespace {

class ReferenceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    source_ = new io::ModelSource(io::open_model(test::bundled_model()));
    model_ = new model::LlamaModel(source_->config, source_->weights);
    tokenizer_ = tokenizer::load_tokenizer(*source_).release();
    reference_ = new nlohmann::json(nlohmann::json::parse(
        read_text_file(test::bundled_model() + "/reference.json")));
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete model_;
    delete source_;
    delete reference_;
  }
  static io::ModelSource* source_;
  static model::LlamaModel* model_;
  static tokenizer::Tokenizer* tokenizer_;
  static nlohmann::json* reference_;
};

io::ModelSource* ReferenceTest::source_;
model::LlamaModel* ReferenceTest::model_;
tokenizer::Tokenizer* ReferenceTest::tokenizer_;
nlohmann::json* ReferenceTest::reference_;

TEST_F(ReferenceTest, PromptTokenIdsMatch) {
  for (const auto& p : (*reference_)["prompts"]) {
    const auto expected = p["prompt_ids"].get<std::vector<int>>();
    EXPECT_EQ(tokenizer_->encode(p["prompt"].get<std::string>(), true), expected)
        << p["prompt"];
  }
}

TEST_F(ReferenceTest, TopTenLogitsAtLastPromptPositionMatch) {
  std::vector<float> logits(size_t(model_->vocab_size()));
  for (const auto& p : (*reference_)["prompts"]) {
    const auto ids = p["prompt_ids"].get<std::vector<int>>();
    model::KVCache cache(model_->config(), 1, 512);
    model::prefill(*model_, cache, 0, ids, 0, logits.data());
    for (const auto& entry : p["top10_last_prompt_position"]) {
      const int id = entry[0].get<int>();
      const double expected = entry[1].get<double>();
      EXPECT_NEAR(logits[id], expected, 1e-3 * std::abs(expected))
          << "prompt '" << p["prompt"].get<std::string>() << "', token " << id;
    }
    std::vector<int> order(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
    std::partial_sort(order.begin(), order.begin() + 10, order.end(),
                      [&](int a, int b) { return logits[a] > logits[b]; });
    for (int k = 0; k < 10; ++k) EXPECT_EQ(order[k], p["top10_last_prompt_position"][k][0]);
  }
}

// Greedy decoding token by token through the KV cache. The reference gives
// only its chosen ids, so any divergence must come where our own top two
// logits are within 1e-4 (a near tie the reference could break either way);
// the failure message shows that margin.
TEST_F(ReferenceTest, GreedyContinuationsMatch) {
  const int vocab = model_->vocab_size();
  std::vector<float> logits(static_cast<size_t>(vocab));
  for (const auto& p : (*reference_)["prompts"]) {
    const auto ids = p["prompt_ids"].get<std::vector<int>>();
    const auto expected = p["greedy_ids"].get<std::vector<int>>();
    model::KVCache cache(model_->config(), 1, 512);
    model::prefill(*model_, cache, 0, ids, 0, logits.data());
    int pos = int(ids.size());
    for (size_t step = 0; step < expected.size(); ++step) {
      const int token = model::argmax(logits.data(), vocab);
      if (token != expected[step]) {
        std::vector<float> sorted(logits);
        std::partial_sort(sorted.begin(), sorted.begin() + 2, sorted.end(), std::greater<>());
        const float margin = sorted[0] - sorted[1];
        EXPECT_LT(margin, 1e-4) << "prompt '" << p["prompt"].get<std::string>()
                                << "' diverges at step " << step << ": got " << token
                                << ", reference " << expected[step] << ", top-2 margin " << margin;
        break;
      }
      if (tokenizer_->is_eos(token)) break;
      std::vector<model::BatchToken> batch{{token, pos++, 0, true}};
      model_->forward(batch, cache, logits.data());
    }
  }
}

TEST_F(ReferenceTest, EvalPerplexityMatchesWithinHalfAPercent) {
  const std::string text = read_text_file(test::testdata("kjv/eval.txt"));
  const std::vector<int> tokens = tokenizer_->encode(text, true);
  eval::PerplexityOptions opts;
  opts.ctx = 256;  // reference.json: eval_ppl_args "--ctx 256"
  opts.progress = false;
  const eval::PerplexityResult r = eval::perplexity(*model_, tokens, opts);
  EXPECT_EQ(r.tokens_scored, (*reference_)["eval_ppl_tokens_scored"].get<int64_t>());
  const double expected = (*reference_)["eval_ppl"].get<double>();
  EXPECT_NEAR(r.perplexity, expected, 0.005 * expected);
}

TEST_F(ReferenceTest, BatchedSequencesEqualSeparateRuns) {
  // Two prompts decoded together in one batch give the same logits as alone.
  const auto a = (*reference_)["prompts"][0]["prompt_ids"].get<std::vector<int>>();
  const auto b = (*reference_)["prompts"][1]["prompt_ids"].get<std::vector<int>>();
  const int vocab = model_->vocab_size();
  std::vector<float> alone_a(static_cast<size_t>(vocab)), alone_b(static_cast<size_t>(vocab));
  model::KVCache c1(model_->config(), 1, 64), c2(model_->config(), 1, 64);
  model::prefill(*model_, c1, 0, a, 0, alone_a.data());
  model::prefill(*model_, c2, 0, b, 0, alone_b.data());
  model::KVCache both(model_->config(), 2, 64);
  std::vector<model::BatchToken> batch;
  for (size_t i = 0; i < a.size(); ++i) batch.push_back({a[i], int(i), 0, i + 1 == a.size()});
  for (size_t i = 0; i < b.size(); ++i) batch.push_back({b[i], int(i), 1, i + 1 == b.size()});
  std::vector<float> logits(2 * size_t(vocab));
  model_->forward(batch, both, logits.data());
  for (int i = 0; i < vocab; ++i) {
    EXPECT_NEAR(logits[i], alone_a[i], 1e-4 * (1 + std::abs(alone_a[i])));
    EXPECT_NEAR(logits[vocab + i], alone_b[i], 1e-4 * (1 + std::abs(alone_b[i])));
  }
}

}  // namespace
}  // namespace nibble
