// nibble serve over HTTP from C++: greedy output equals `nibble generate`,
// the queue bound answers 429, a client that hangs up frees its sequence.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "serve/serve_process.h"
#include "test_paths.h"

namespace nibble {
namespace {

using nlohmann::json;

// The text `nibble generate` prints (prompt + continuation), without the speed line.
std::string generate_text(const std::string& prompt, int n) {
  std::string out;
  const int status = test::run_command(test::cli_path() + " generate -m " + test::bundled_model() + " -p '" +
                                           prompt + "' -n " + std::to_string(n) + " --temp 0 2>/dev/null",
                                       &out);
  EXPECT_EQ(status, 0) << out;
  return out.substr(0, out.find('\n'));
}

json post_json(httplib::Client& c, const std::string& path, const json& body, int expect_status = 200) {
  auto r = c.Post(path.c_str(), body.dump(), "application/json");
  if (!r) {
    ADD_FAILURE() << path << ": no response (" << httplib::to_string(r.error()) << ")";
    return nullptr;
  }
  EXPECT_EQ(r->status, expect_status) << r->body;
  return json::parse(r->body);
}

// Text of an SSE completion stream.
std::string stream_text(const std::string& sse) {
  std::string text;
  std::istringstream lines(sse);
  std::string line;
  bool done = false;
  while (std::getline(lines, line)) {
    if (line.rfind("data: ", 0) != 0) continue;
    const std::string data = line.substr(6);
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    const json chunk = json::parse(data);
    for (const auto& choice : chunk["choices"]) text += choice.value("text", "");
  }
  EXPECT_TRUE(done) << sse;
  return text;
}

double metric(httplib::Client& c, const std::string& name) {
  auto r = c.Get("/metrics");
  if (!r) return -1;
  std::smatch m;
  if (!std::regex_search(r->body, m, std::regex("\n" + name + R"(\{[^}]*\} ([0-9.e+-]+))"))) return -1;
  return std::stod(m[1]);
}

TEST(Serve, GreedyCompletionEqualsGenerate) {
  test::ServeProcess server;
  auto c = server.client();
  for (const std::string prompt : {"In the beginning", "And it came to pass"}) {
    const std::string expected = generate_text(prompt, 32);
    const json r =
        post_json(*c, "/v1/completions", {{"prompt", prompt}, {"max_tokens", 32}, {"temperature", 0}});
    EXPECT_EQ(prompt + r["choices"][0]["text"].get<std::string>(), expected);
    EXPECT_EQ(r["usage"]["completion_tokens"], 32);
    EXPECT_EQ(r["choices"][0]["finish_reason"], "length");

    auto s =
        c->Post("/v1/completions",
                json{{"prompt", prompt}, {"max_tokens", 32}, {"temperature", 0}, {"stream", true}}.dump(),
                "application/json");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->status, 200);
    EXPECT_EQ(s->get_header_value("Content-Type"), "text/event-stream");
    EXPECT_EQ(prompt + stream_text(s->body), expected);
  }
}

TEST(Serve, HealthModelsAndMetrics) {
  test::ServeProcess server({"--served-model-name", "kjv"});
  auto c = server.client();
  auto h = c->Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body), json({{"status", "ok"}}));
  auto m = c->Get("/v1/models");
  ASSERT_TRUE(m);
  EXPECT_EQ(json::parse(m->body)["data"][0]["id"], "kjv");
  EXPECT_EQ(json::parse(m->body)["data"][0]["max_model_len"], 512);
  post_json(*c, "/v1/chat/completions",
            {{"model", "kjv"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 4}});
  post_json(*c, "/v1/completions", {{"model", "other"}, {"prompt", "hi"}}, 404);
  // Requests are counted once their response is written: give the logger a moment.
  auto metrics = c->Get("/metrics");
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(metrics);
    if (metrics->body.find(R"(endpoint="/v1/completions",status="404"} 1)") != std::string::npos &&
        metrics->body.find(R"(endpoint="/v1/chat/completions",status="200"} 1)") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    metrics = c->Get("/metrics");
  }
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  for (const char* name :
       {"nibble:num_requests_running", "nibble:num_requests_waiting", "nibble:prompt_tokens_total",
        "nibble:generation_tokens_total", "nibble:time_to_first_token_seconds_bucket",
        "nibble:time_per_output_token_seconds_bucket", "nibble:e2e_request_latency_seconds_count",
        "nibble:kv_cache_usage_perc", "nibble:request_success_total"})
    EXPECT_NE(metrics->body.find(std::string("\n") + name + "{"), std::string::npos) << name;
  EXPECT_NE(metrics->body.find(R"(endpoint="/v1/chat/completions",status="200"} 1)"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find(R"(endpoint="/v1/completions",status="404"} 1)"), std::string::npos)
      << metrics->body;
  EXPECT_EQ(metric(*c, "nibble:generation_tokens_total"), 4);
}

TEST(Serve, FullQueueAnswers429) {
  test::ServeProcess server({"--max-batch", "1", "--max-queue", "1"});
  const std::string body = json{
      {"prompt", "In the beginning"},
      {"max_tokens", 480},
      {"ignore_eos", true},
      {"stream", true}}.dump();
  auto c = server.client();
  auto wait_for = [&](const char* gauge, double value) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (metric(*c, gauge) != value && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  // One running, one waiting: the third finds the queue full.
  std::vector<int> statuses(2, 0);
  std::vector<std::thread> clients;
  for (int i = 0; i < 2; ++i) {
    clients.emplace_back([&, i] {
      auto r = server.client()->Post("/v1/completions", body, "application/json");
      statuses[i] = r ? r->status : -1;
    });
    wait_for(i == 0 ? "nibble:num_requests_running" : "nibble:num_requests_waiting", 1);
  }
  auto r = c->Post("/v1/completions", body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429) << r->body;
  const json e = json::parse(r->body);
  EXPECT_EQ(e["error"]["code"], 429);
  EXPECT_EQ(e["error"]["type"], "rate_limit_error");
  for (auto& t : clients) t.join();
  EXPECT_EQ(statuses, std::vector<int>({200, 200}));
}

TEST(Serve, ClientThatHangsUpFreesItsSlot) {
  // A long non-streaming request whose client gives up after a second: the
  // server notices on its keep-alive write and cancels the sequence.
  test::ServeProcess server({"--max-batch", "1", "--ctx", "4096"});
  {
    auto impatient = server.client();
    impatient->set_read_timeout(1);
    auto r = impatient->Post(
        "/v1/completions",
        json{{"prompt", "In the beginning"}, {"max_tokens", 4000}, {"ignore_eos", true}}.dump(),
        "application/json");
    EXPECT_FALSE(r);  // timed out
  }
  auto c = server.client();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (metric(*c, "nibble:num_requests_running") != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(metric(*c, "nibble:num_requests_running"), 0);
  auto m = c->Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find(R"(finished_reason="abort"} 1)"), std::string::npos) << m->body;
  EXPECT_LT(metric(*c, "nibble:generation_tokens_total"), 3999);
  // The slot is free again.
  post_json(*c, "/v1/completions", {{"prompt", "hi"}, {"max_tokens", 2}});
}

}  // namespace
}  // namespace nibble
