// Load: 32 concurrent streaming clients x 5 requests each through the
// official `openai` client (tests/js/serve_load.mjs); all must complete
// without error, and the server must be idle and healthy afterwards.
// Asserts completion only; throughput is measured by tests/js/serve_bench.mjs.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

#include "serve/serve_process.h"
#include "test_paths.h"

namespace nibble {
namespace {

TEST(ServeLoad, ThirtyTwoConcurrentStreamingClients) {
  ASSERT_TRUE(std::filesystem::exists(test::js_dir() + "/node_modules/openai/package.json"))
      << "tests/js/node_modules is missing: run `npm ci` in tests/js";
  test::ServeProcess server({"--max-batch", "8", "--max-queue", "64", "--served-model-name", "kjv"});
  std::string out;
  const int status = test::run_command("cd " + test::js_dir() + " && NIBBLE_BASE_URL=" + server.base_url() +
                                           " NIBBLE_MODEL=kjv timeout 120 node serve_load.mjs",
                                       &out);
  EXPECT_EQ(status, 0) << out << "\n--- server log ---\n" << server.log();
  EXPECT_NE(out.find("load: 160 streaming requests from 32 clients"), std::string::npos) << out;
  auto c = server.client();
  auto m = c->Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_TRUE(std::regex_search(m->body, std::regex(R"(\nnibble:num_requests_running\{[^}]*\} 0\n)")))
      << m->body;
  EXPECT_TRUE(std::regex_search(m->body, std::regex(R"(\nnibble:num_requests_waiting\{[^}]*\} 0\n)")))
      << m->body;
  EXPECT_TRUE(
      std::regex_search(m->body, std::regex(R"(endpoint="/v1/(chat/)?completions",status="200"\} 80\n)")))
      << m->body;
  auto h = c->Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

}  // namespace
}  // namespace nibble
