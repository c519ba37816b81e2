// Request parsing and validation, stop strings and per-request sampling:
// the serve pieces that need no server.
#include "serve/protocol.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "serve/api_error.h"
#include "serve/sequence_sampler.h"
#include "serve/stop_matcher.h"

namespace nibble::serve {
namespace {

using nlohmann::json;

const model::SamplingParams kDefaults = default_sampling(nullptr);
const json kMessages = json::parse(R"([{"role": "user", "content": "hi"}])");

// The 400's param, or "" when the body parses.
std::string rejected_param(const json& body, bool chat = true) {
  try {
    chat ? parse_chat_request(body, kDefaults, 1024) : parse_completion_request(body, kDefaults, 1024);
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_NE(std::string(e.what()).find(e.param().substr(0, e.param().find('['))), std::string::npos)
        << e.what();
    return e.param();
  }
  return "";
}

TEST(ServeProtocol, DefaultsAreOpenAIs) {
  const GenerationParams p = parse_chat_request({{"messages", kMessages}}, kDefaults, 1024);
  EXPECT_EQ(p.sampling.params.temperature, 1.0f);
  EXPECT_EQ(p.sampling.params.top_p, 1.0f);
  EXPECT_EQ(p.sampling.params.top_k, 0);
  EXPECT_EQ(p.sampling.params.min_p, 0.0f);
  EXPECT_FALSE(p.max_tokens.has_value());
  EXPECT_FALSE(p.stream);
  EXPECT_EQ(p.n, 1);
  EXPECT_EQ(p.logprobs, -1);
  const json gen = {{"temperature", 0.6}, {"top_p", 0.9}, {"top_k", 20}};
  const model::SamplingParams d = default_sampling(gen);
  EXPECT_FLOAT_EQ(d.temperature, 0.6f);
  EXPECT_FLOAT_EQ(d.top_p, 0.9f);
  EXPECT_EQ(d.top_k, 20);
}

TEST(ServeProtocol, ReadsFieldsInEitherSpelling) {
  const GenerationParams p = parse_chat_request(
      {{"messages", json::parse(R"([{"role": "developer", "content": [{"type": "text", "text": "a"},
                                     {"type": "text", "text": "b"}]}, {"role": "user", "content": "q"}])")},
       {"max_tokens", 5},
       {"max_completion_tokens", 7},
       {"stop", "END"},
       {"top_k", -1},
       {"seed", 42},
       {"repeat_penalty", 1.1},
       {"logit_bias", {{"17", -100}}},
       {"stream", true},
       {"stream_options", json::object()},
       {"user", "ignored"},
       {"metadata", {{"x", 1}}}},
      kDefaults, 1024);
  EXPECT_EQ(p.messages[0]["role"], "system");
  EXPECT_EQ(p.messages[0]["content"], "ab");
  EXPECT_EQ(*p.max_tokens, 7);
  EXPECT_EQ(p.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(p.sampling.params.top_k, 0);
  EXPECT_TRUE(p.sampling.seeded);
  EXPECT_EQ(p.sampling.params.seed, 42u);
  EXPECT_FLOAT_EQ(p.sampling.params.repetition_penalty, 1.1f);
  ASSERT_EQ(p.sampling.logit_bias.size(), 1u);
  EXPECT_EQ(p.sampling.logit_bias[0].first, 17);
  EXPECT_TRUE(p.include_usage);  // a stream_options object means include_usage (vLLM)

  const GenerationParams c = parse_completion_request(
      {{"prompt", json::parse("[[1, 2], [3]]")}, {"echo", true}, {"logprobs", 2}}, kDefaults, 1024);
  ASSERT_EQ(c.prompts.size(), 2u);
  EXPECT_EQ(c.prompts[0].ids, std::vector<int>({1, 2}));
  EXPECT_TRUE(c.echo);
  EXPECT_EQ(c.logprobs, 2);
  EXPECT_EQ(parse_completion_request({{"prompt", "x"}, {"max_tokens", 3.0}}, kDefaults, 1024).max_tokens, 3);
}

TEST(ServeProtocol, RejectsBadValuesNamingTheParameter) {
  EXPECT_EQ(rejected_param({{"messages", kMessages}}), "");
  EXPECT_EQ(rejected_param(json::object()), "messages");
  EXPECT_EQ(rejected_param({{"messages", json::array()}}), "messages");
  EXPECT_EQ(rejected_param({{"messages", json::parse(R"([{"role": "king", "content": "x"}])")}}), "messages");
  EXPECT_EQ(rejected_param({{"messages", json::parse(R"([{"role": "user", "content": 3}])")}}),
            "messages[0].content");
  EXPECT_EQ(rejected_param({{"messages", json::parse(R"([{"role": "user"}])")}}), "messages");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"temperature", -1}}), "temperature");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"temperature", 1e300}}), "temperature");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"temperature", "1"}}), "temperature");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"top_p", 0}}), "top_p");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"top_p", 1.01}}), "top_p");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"max_tokens", 0}}), "max_tokens");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"max_tokens", 2.5}}), "max_tokens");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"max_tokens", json::parse("1e40")}}), "max_tokens");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"max_tokens", json::parse("99999999999999999999")}}),
            "max_tokens");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"n", 0}}), "n");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"stop", json::array({1})}}), "stop[0]");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"stream_options", json::object()}}), "stream_options");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"top_logprobs", 2}}), "top_logprobs");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"logit_bias", {{"1024", 1}}}}), "logit_bias");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"response_format", {{"type", "json_object"}}}}),
            "response_format");
  EXPECT_EQ(rejected_param({{"messages", kMessages}, {"min_tokens", 9}, {"max_tokens", 3}}), "min_tokens");
  EXPECT_EQ(rejected_param({{"prompt", json::array()}}, false), "prompt");
  EXPECT_EQ(rejected_param({{"prompt", json::parse("[1, 1024]")}}, false), "prompt[1]");
  EXPECT_EQ(rejected_param({{"prompt", json::parse(R"(["a", 5])")}}, false), "prompt[1]");
  EXPECT_EQ(rejected_param({{"prompt", "x"}, {"logprobs", 21}}, false), "logprobs");
  EXPECT_THROW(parse_json_body("{\"a\": "), ApiError);
  EXPECT_THROW(parse_json_body("[1]"), ApiError);
}

TEST(ServeStopMatcher, HoldsBackPossibleStopsAndCutsAtTheFirst) {
  StopMatcher m({"END", "stop here"});
  EXPECT_EQ(m.push("abc E"), "abc ");  // "E" could start "END"
  EXPECT_EQ(m.push("N"), "");
  EXPECT_EQ(m.push("x s"), "ENx ");
  EXPECT_EQ(m.push("top h"), "");
  EXPECT_EQ(m.push("ere and END"), "");
  EXPECT_TRUE(m.matched());
  EXPECT_EQ(m.matched_stop(), "stop here");
  EXPECT_EQ(m.push("more"), "");
  EXPECT_EQ(m.flush(), "");

  StopMatcher keep({"END"}, true);
  EXPECT_EQ(keep.push("a ENDb"), "a END");

  StopMatcher tail({"END"});
  EXPECT_EQ(tail.push("xEN"), "x");
  EXPECT_EQ(tail.flush(), "EN");  // generation ended without the stop: release it
  EXPECT_FALSE(tail.matched());

  StopMatcher none({});
  EXPECT_EQ(none.push("anything"), "anything");
}

TEST(ServeSampler, LogitBiasBansAndLogprobs) {
  std::vector<float> logits = {0, 1, 2, 3, 4};
  SamplingOptions o;
  o.params = kDefaults;
  o.params.temperature = 0;
  SequenceSampler greedy(o, 5);
  EXPECT_EQ(greedy.sample(logits.data(), {}, {}), 4);
  EXPECT_EQ(greedy.sample(logits.data(), {}, {4}), 3);  // banned (e.g. EOS before min_tokens)
  o.logit_bias = {{0, 100.0f}};
  SequenceSampler biased(o, 5);
  EXPECT_EQ(biased.sample(logits.data(), {}, {}), 0);
  o.logit_bias.clear();
  o.frequency_penalty = 2;
  SequenceSampler penalized(o, 5);
  penalized.accept(4);
  EXPECT_EQ(penalized.sample(logits.data(), {}, {}), 3);  // 4 - 2 < 3

  const TokenLogprob lp = token_logprobs(logits.data(), 5, 2, 3);
  double z = 0;
  for (float l : logits) z += std::exp(l);
  EXPECT_NEAR(lp.logprob, 2 - std::log(z), 1e-5);
  ASSERT_EQ(lp.top.size(), 3u);
  EXPECT_EQ(lp.top[0].first, 4);
  EXPECT_EQ(lp.top[2].first, 2);
}

}  // namespace
}  // namespace nibble::serve
