// The official `openai` npm client against nibble serve: runs
// tests/js/openai_conformance.mjs (node's test runner) on a server started
// with an API key. Fails, never skips, when node or node_modules is missing.
#include <gtest/gtest.h>

#include <filesystem>

#include "serve/serve_process.h"
#include "test_paths.h"

namespace nibble {
namespace {

TEST(ServeOpenAI, OfficialClientConformance) {
  ASSERT_TRUE(std::filesystem::exists(test::js_dir() + "/node_modules/openai/package.json"))
      << "tests/js/node_modules is missing: run `npm ci` in tests/js";
  test::ServeProcess server({"--api-key", "test-key-123", "--served-model-name", "kjv"});
  std::string out;
  const int status =
      test::run_command("cd " + test::js_dir() + " && NIBBLE_BASE_URL=" + server.base_url() +
                            " NIBBLE_API_KEY=test-key-123 NIBBLE_MODEL=kjv timeout 120 node --test "
                            "--test-reporter=tap openai_conformance.mjs",
                        &out);
  EXPECT_EQ(status, 0) << out << "\n--- server log ---\n" << server.log();
  EXPECT_NE(out.find("# fail 0"), std::string::npos) << out;
  EXPECT_TRUE(server.alive());
}

}  // namespace
}  // namespace nibble
