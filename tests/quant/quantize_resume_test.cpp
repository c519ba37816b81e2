// A quantization killed with SIGKILL part way through, then rerun with
// --resume, must produce exactly the checkpoint of an uninterrupted run.
#include <gtest/gtest.h>

#include "core/files.h"
#include "test_paths.h"

namespace nibble {
namespace {

std::vector<std::string> quantize_args(const std::string& out, const std::string& method = "gptq") {
  std::vector<std::string> args = {test::cli_path(), "quantize", "-m", test::bundled_model(), "--method",
                                   method, "--bits", "4", "--group-size", "128", "--seed", "5", "-o", out};
  // AWQ's search runs the layer ~60 times: fewer tokens keep it as quick as GPTQ here.
  for (const char* a : method == "gptq" ? std::vector<const char*>{"--nsamples", "48"}
                                        : std::vector<const char*>{"--nsamples", "8", "--seqlen", "128"})
    args.push_back(a);
  return args;
}

std::string command_line(const std::vector<std::string>& args) {
  std::string command;
  for (const auto& a : args) command += a + " ";
  return command;
}

void check_killed_run_resumes(const std::string& method, const char* config_file) {
  const std::string dir = test::temp_dir("resume");
  const std::string whole = dir + "/whole", killed = dir + "/killed";
  std::string log;
  ASSERT_EQ(test::run_command(command_line(quantize_args(whole, method)), &log), 0) << log;

  // Kill once the second layer is on disk, in the middle of the third.
  ASSERT_TRUE(test::kill_when_file_appears(quantize_args(killed, method),
                                           killed + "/.partial/layer-0001.safetensors"))
      << "the run finished before it could be killed";
  EXPECT_FALSE(file_exists(killed + "/config.json")) << "an interrupted output must not look complete";

  // Without --resume the leftover is refused; with it the run completes.
  const std::string command = command_line(quantize_args(killed, method));
  EXPECT_EQ(test::run_command(command, &log), 1) << log;
  EXPECT_NE(log.find("--resume"), std::string::npos) << log;
  ASSERT_EQ(test::run_command(command + "--resume", &log), 0) << log;
  EXPECT_NE(log.find("resuming: layers 0-1 are done"), std::string::npos) << log;

  for (const char* file : {"model.safetensors", "config.json", config_file, "tokenizer.model"})
    EXPECT_TRUE(read_text_file(whole + "/" + file) == read_text_file(killed + "/" + file)) << file;
  EXPECT_FALSE(is_directory(killed + "/.partial"));
}

TEST(QuantizeResume, KilledRunResumesToAnIdenticalCheckpoint) {
  check_killed_run_resumes("gptq", "quantize_config.json");
}

// AWQ also stores the folded norms of each layer, which the resumed run
// must restore before it continues.
TEST(QuantizeResume, KilledAwqRunResumesToAnIdenticalCheckpoint) {
  check_killed_run_resumes("awq", "quant_config.json");
}

TEST(QuantizeResume, ResumeWithOtherOptionsIsRefused) {
  const std::string out = test::temp_dir("resume") + "/q";
  ASSERT_TRUE(test::kill_when_file_appears(quantize_args(out), out + "/.partial/layer-0000.safetensors"));
  std::string log;
  EXPECT_EQ(test::run_command(test::cli_path() + " quantize -m " + test::bundled_model() +
                                  " --method gptq --bits 3 -o " + out + " --resume",
                              &log),
            1);
  EXPECT_NE(log.find("other options"), std::string::npos) << log;
}

}  // namespace
}  // namespace nibble
