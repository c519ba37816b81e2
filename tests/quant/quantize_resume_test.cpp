// A quantization killed with SIGKILL part way through, then rerun with
// --resume, must produce exactly the checkpoint of an uninterrupted run.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/files.h"
#include "test_paths.h"

extern char** environ;

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

pid_t spawn(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

void check_killed_run_resumes(const std::string& method, const char* config_file) {
  const std::string dir = test::temp_dir("resume");
  const std::string whole = dir + "/whole", killed = dir + "/killed";
  const int status = wait_for(spawn(quantize_args(whole, method)));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  // Kill once the second layer is on disk, in the middle of the third.
  const pid_t pid = spawn(quantize_args(killed, method));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!file_exists(killed + "/.partial/layer-0001.safetensors") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGKILL);
  const int killed_status = wait_for(pid);
  ASSERT_TRUE(WIFSIGNALED(killed_status)) << "the run finished before it could be killed";
  EXPECT_FALSE(file_exists(killed + "/config.json")) << "an interrupted output must not look complete";

  // Without --resume the leftover is refused; with it the run completes.
  std::string log;
  std::string command;
  for (const auto& a : quantize_args(killed, method)) command += a + " ";
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
  const pid_t pid = spawn(quantize_args(out));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (!file_exists(out + "/.partial/layer-0000.safetensors") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGKILL);
  wait_for(pid);
  std::string log;
  EXPECT_EQ(test::run_command(test::cli_path() + " quantize -m " + test::bundled_model() +
                                  " --method gptq --bits 3 -o " + out + " --resume",
                              &log),
            1);
  EXPECT_NE(log.find("other options"), std::string::npos) << log;
}

}  // namespace
}  // namespace nibble
