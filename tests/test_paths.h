// Where tests find the bundled data, the source tree and the built CLI.
#pragma once

#include <string>
#include <vector>

namespace nibble::test {

std::string testdata(const std::string& relative);  // testdata/<relative>
std::string source_dir(const std::string& relative);
std::string cli_path();
std::string bundled_model();                          // testdata/kjv-llama-4m
// A fresh empty directory under the system temp dir, removed at exit.
std::string temp_dir(const std::string& tag);
// Runs a shell command, returns its exit status; output goes to `output`.
int run_command(const std::string& command, std::string* output = nullptr);
// Starts args[0] with `args` (output discarded) and kills it with SIGKILL as
// soon as `file` exists. False when it exited first (or `file` did not appear
// within 5 minutes): then nothing was interrupted.
bool kill_when_file_appears(const std::vector<std::string>& args, const std::string& file);

}  // namespace nibble::test
