// `nibble serve` on the bundled model in a child process, for the serve
// tests: it listens on a free loopback port (--port 0; the port is read
// from its start-up line), dies with the test process, and is stopped when
// the object goes away. Header-only: tests/serve/*_test.cpp include it.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "test_paths.h"

namespace nibble::test {

class ServeProcess {
 public:
  // `args` are added after "serve -m <bundled model> --port 0 -t 1".
  explicit ServeProcess(const std::vector<std::string>& args = {}) {
    log_path_ = temp_dir("serve") + "/serve.log";
    std::vector<std::string> argv = {cli_path(), "serve", "-m", bundled_model(), "--port", "0", "-t", "1"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    const int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log_fd < 0) throw std::runtime_error("cannot create " + log_path_);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::dup2(log_fd, 1);
      ::dup2(log_fd, 2);
      ::execv(cargv[0], cargv.data());
      ::_exit(127);
    }
    ::close(log_fd);
    if (pid_ < 0) throw std::runtime_error("fork failed");

    const std::regex started(R"(on http://127\.0\.0\.1:(\d+)/v1)");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch m;
      const std::string text = log();
      if (std::regex_search(text, m, started)) {
        port_ = std::stoi(m[1]);
        break;
      }
      if (!alive()) throw std::runtime_error("nibble serve exited:\n" + text);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (port_ == 0) throw std::runtime_error("nibble serve did not start:\n" + log());
  }

  ~ServeProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {  // 5 s to stop cleanly
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  bool alive() const {
    int status = 0;
    return ::waitpid(pid_, &status, WNOHANG) == 0;
  }

  // A client for this server with generous timeouts.
  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_connection_timeout(5);
    c->set_read_timeout(60);
    c->set_write_timeout(10);
    return c;
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// The node binary and the installed peers of tests/js; the tests fail (not
// skip) when they are missing.
inline std::string js_dir() { return source_dir("tests/js"); }

}  // namespace nibble::test
