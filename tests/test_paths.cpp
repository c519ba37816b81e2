#include "test_paths.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

namespace nibble::test {

std::string testdata(const std::string& relative) {
  return std::string(NIBBLE_TESTDATA) + "/" + relative;
}

std::string source_dir(const std::string& relative) {
  return std::string(NIBBLE_SOURCE_DIR) + "/" + relative;
}

std::string cli_path() { return NIBBLE_CLI; }

std::string bundled_model() { return testdata("kjv-llama-4m"); }

namespace {
struct TempDirs {
  std::mutex mu;
  std::vector<std::string> dirs;
  ~TempDirs() {
    for (const auto& d : dirs) {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  }
};
TempDirs& temp_dirs() {
  static TempDirs dirs;
  return dirs;
}
}  // namespace

std::string temp_dir(const std::string& tag) {
  std::string pattern = (std::filesystem::temp_directory_path() / ("nibble-" + tag + "-XXXXXX")).string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) std::abort();
  std::string dir(buf.data());
  std::lock_guard<std::mutex> lock(temp_dirs().mu);
  temp_dirs().dirs.push_back(dir);
  return dir;
}

int run_command(const std::string& command, std::string* output) {
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  if (output) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace nibble::test
