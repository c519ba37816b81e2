// GPTQ and AWQ against round-to-nearest on the bundled model: every linear's
// output error, and perplexity on the held-out eval text at 4 and 3 bits.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/files.h"
#include "test_paths.h"

namespace nibble {
namespace {

std::string quantize(const std::string& args, std::string* log = nullptr) {
  const std::string out = test::temp_dir("quality") + "/q";
  std::string output;
  EXPECT_EQ(test::run_command(test::cli_path() + " quantize -m " + test::bundled_model() + " -o " +
                                  out + " " + args,
                              &output),
            0)
      << output;
  if (log) *log = output;
  return out;
}

double perplexity(const std::string& model, const std::string& args = "") {
  std::string out;
  EXPECT_EQ(test::run_command(test::cli_path() + " ppl -m " + model + " -f " +
                                  test::testdata("kjv/eval.txt") + " --ctx 256 " + args,
                              &out),
            0)
      << out;
  std::smatch m;
  EXPECT_TRUE(std::regex_search(out, m, std::regex(R"(perplexity: ([\d.]+))"))) << out;
  return std::stod(m[1]);
}

double bf16_perplexity() {
  return nlohmann::json::parse(read_text_file(test::bundled_model() + "/reference.json"))["eval_ppl"]
      .get<double>();
}

TEST(QuantizeQuality, GptqOutputErrorIsAtMostRtnForEveryLinear) {
  std::string log;
  quantize("--method gptq --bits 4 --group-size 128", &log);
  const std::regex line(R"((model\.layers\.\d+\.\S+)\s+output error ([\d.e-]+) \(rtn ([\d.e-]+)\))");
  int linears = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it) {
    ++linears;
    EXPECT_LE(std::stod((*it)[2]), std::stod((*it)[3])) << (*it)[1];
  }
  EXPECT_EQ(linears, 28) << log;
}

TEST(QuantizeQuality, GptqBeatsRtnAt4BitsPerplexity) {
  const double rtn = perplexity(quantize("--method rtn --bits 4 --group-size 128"));
  const double gptq = perplexity(quantize("--method gptq --bits 4 --group-size 128"));
  std::printf("bf16 %.4f, rtn w4g128 %.4f, gptq w4g128 %.4f\n", bf16_perplexity(), rtn, gptq);
  EXPECT_LT(gptq, rtn);
}

TEST(QuantizeQuality, GptqClosesHalfOfRtnsGapAt3Bits) {
  const double bf16 = bf16_perplexity();
  const double rtn = perplexity(quantize("--method rtn --bits 3 --group-size 128"));
  const double gptq = perplexity(quantize("--method gptq --bits 3 --group-size 128"));
  std::printf("bf16 %.4f, rtn w3g128 %.4f, gptq w3g128 %.4f\n", bf16, rtn, gptq);
  EXPECT_LT(gptq, rtn);
  EXPECT_LE(gptq - bf16, 0.5 * (rtn - bf16));
}

// On the first 80 windows of the eval text, with 16 calibration windows of
// 256 tokens: a quick run that keeps AWQ's ordering against RTN.
void check_awq_beats_rtn(int bits) {
  const std::string grid = " --bits " + std::to_string(bits) + " --group-size 128";
  const double rtn = perplexity(quantize("--method rtn" + grid), "--max-windows 80");
  const double awq = perplexity(quantize("--method awq --nsamples 16 --seqlen 256" + grid), "--max-windows 80");
  std::printf("first 80 windows: rtn w%dg128 %.4f, awq w%dg128 %.4f\n", bits, rtn, bits, awq);
  EXPECT_LT(awq, rtn);
}

TEST(QuantizeQuality, AwqBeatsRtnAt4BitsPerplexity) { check_awq_beats_rtn(4); }
TEST(QuantizeQuality, AwqBeatsRtnAt3BitsPerplexity) { check_awq_beats_rtn(3); }

}  // namespace
}  // namespace nibble
