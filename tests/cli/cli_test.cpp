// The nibble command line as a user runs it: verbs, flags, output, errors.
#include <gtest/gtest.h>

#include <regex>

#include "core/cpu.h"
#include "test_paths.h"

namespace nibble {
namespace {

std::string run_ok(const std::string& args) {
  std::string out;
  const int status = test::run_command(test::cli_path() + " " + args, &out);
  EXPECT_EQ(status, 0) << args << "\n" << out;
  return out;
}

TEST(Cli, GenerateGreedyPrintsTheReferenceContinuationAndSpeed) {
  const std::string out = run_ok("generate -m " + test::bundled_model() +
                                 " -p 'In the beginning' -n 48 --temp 0");
  // reference.json's greedy_text for this prompt.
  EXPECT_NE(out.find("In the beginning of the LORD, and the ten thousand of Israel, and the chief "
                     "of the fathers of the fathers of the prophets"),
            std::string::npos)
      << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(prefill: \d+ tokens, [\d.]+ tokens/s \| decode: 48 tokens, [\d.]+ tokens/s)")))
      << out;
}

TEST(Cli, SameSeedSameTextDifferentSeedDifferentText) {
  const std::string base = "generate -m " + test::bundled_model() +
                           " -p 'And it came to pass' -n 40 --temp 1.0 --top-k 0 --top-p 1 --min-p 0 ";
  // The text is everything before the speed line.
  auto text = [&](const std::string& seed) {
    const std::string out = run_ok(base + "--seed " + seed);
    return out.substr(0, out.find("\nprefill:"));
  };
  const std::string a = text("7"), b = text("7"), c = text("8");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(Cli, PplStatesItsWindowing) {
  const std::string out = run_ok("ppl -m " + test::bundled_model() + " -f " +
                                 test::testdata("kjv/calib.txt") + " --ctx 128 --max-windows 4");
  EXPECT_NE(out.find("windowing: "), std::string::npos) << out;
  EXPECT_NE(out.find("non-overlapping windows of 128"), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(perplexity: \d+\.\d+ \(mean NLL [\d.]+ over 508 predictions in 4 windows)")))
      << out;
}

TEST(Cli, InspectCountsParameters) {
  const std::string out = run_ok("inspect " + test::bundled_model());
  EXPECT_NE(out.find("parameters: 3672320"), std::string::npos) << out;
  EXPECT_NE(out.find("model.layers.3.mlp.down_proj.weight"), std::string::npos) << out;
  EXPECT_NE(out.find("BF16"), std::string::npos) << out;
}

TEST(Cli, SynthWritesALoadableCheckpointAndBenchRunsIt) {
  const std::string dir = test::temp_dir("synth") + "/tiny";
  run_ok("synth --shape tiny -o " + dir);
  const std::string inspect = run_ok("inspect --no-tensors " + dir);
  EXPECT_NE(inspect.find("parameters: 3672320"), std::string::npos) << inspect;
  const std::string bench = run_ok("bench -m " + dir + " --prompt-tokens 32 --decode-tokens 8 --repeats 1");
  EXPECT_TRUE(std::regex_search(bench, std::regex(R"(\n1 +[\d.]+ +[\d.]+ +[\d.]+\n)"))) << bench;
  EXPECT_NE(bench.find("peak RSS"), std::string::npos) << bench;
}

// NIBBLE_ISA=avxvnni lowers the kernel level to the 256-bit VNNI builds (to
// AVX2 where the CPU has no 256-bit vpdpbusd); bench says which, and a w4
// model runs through it.
TEST(Cli, NibbleIsaAvxvnniIsRunAndReportedByBench) {
  const std::string dir = test::temp_dir("isa") + "/w4";
  run_ok("quantize -m " + test::bundled_model() + " --method rtn --bits 4 --group-size 32 -o " +
         dir);
  std::string out;
  const int status = test::run_command("NIBBLE_ISA=avxvnni " + test::cli_path() + " bench -m " +
                                           dir + " --prompt-tokens 16 --decode-tokens 4 --repeats 1",
                                       &out);
  ASSERT_EQ(status, 0) << out;
  const CpuFeatures& f = cpu_features();
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  const char* want = !avx2 ? "scalar"
                     : f.avxvnni ? "avxvnni (vex)"
                     : f.avx512f && f.avx512vl && f.avx512vnni ? "avxvnni (evex)"
                                                               : "avx2";
  EXPECT_NE(out.find(std::string("kernels: ") + want + ","), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n1 +[\d.]+ +[\d.]+ +[\d.]+\n)"))) << out;
}

TEST(Cli, BadArgumentsAreOneLineErrors) {
  for (const std::string& args :
       {std::string("generate -m /nonexistent -p hi"), "generate -m " + test::bundled_model() + " -p hi --temp nan",
        "generate -m " + test::bundled_model() + " -p hi --top-p 2", "ppl -m " + test::bundled_model() + " -f /nonexistent",
        "ppl -m " + test::bundled_model() + " -f " + test::testdata("kjv/README.md") + " --ctx 512",
        std::string("synth --shape 999b -o /tmp/x")}) {
    std::string out;
    EXPECT_EQ(test::run_command(test::cli_path() + " " + args, &out), 1) << args << "\n" << out;
    EXPECT_NE(out.find("error: "), std::string::npos) << args << "\n" << out;
  }
}

}  // namespace
}  // namespace nibble
