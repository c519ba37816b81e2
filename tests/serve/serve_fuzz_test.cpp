// Fuzz: 500 malformed requests over raw sockets — random bytes, broken
// request lines and headers, wrong methods and paths, truncated JSON, wrong
// types, absurd numbers — each must get a 4xx answer (never a 5xx, a hang
// or a crash), and the server must still be healthy afterwards.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "serve/serve_process.h"
#include "test_paths.h"

namespace nibble {
namespace {

using nlohmann::json;

// Sends raw bytes on a fresh connection; returns the status of the first
// response line, or -1 when none came within the timeout.
int send_raw(int port, const std::string& bytes, std::string* head = nullptr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (413) before reading everything
    sent += size_t(n);
  }
  std::string response;
  char buf[4096];
  while (response.find("\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    response.append(buf, size_t(n));
  }
  ::close(fd);
  if (head) *head = response.substr(0, 300);
  if (response.rfind("HTTP/1.1 ", 0) != 0 || response.size() < 12) return -1;
  return std::atoi(response.c_str() + 9);
}

std::string request(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& extra_headers = "") {
  // The right key unless the fuzzer sends its own Authorization header.
  const std::string auth =
      extra_headers.find("Authorization:") == std::string::npos ? "Authorization: Bearer fuzz-key\r\n" : "";
  return method + " " + path +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\n" + auth +
         extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

class Fuzzer {
 public:
  explicit Fuzzer(uint64_t seed) : rng_(seed) {}

  std::string next() {
    switch (pick(10)) {
      case 0:
        return random_bytes();
      case 1:
        return broken_request_line();
      case 2:
        return broken_headers();
      case 3:
        return wrong_route();
      case 4:
        return truncated_json();
      case 5:
      case 6:
      case 7:
        return invalid_fields();
      case 8:
        return not_json();
      default:
        return bad_framing();
    }
  }

 private:
  size_t pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  template <class T>
  const T& one_of(const std::vector<T>& v) {
    return v[pick(v.size())];
  }
  std::string bytes(size_t n, bool printable) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += char(printable ? 32 + pick(95) : pick(256));
    return s;
  }
  const std::string& endpoint() {
    static const std::vector<std::string> e = {"/v1/chat/completions", "/v1/completions", "/tokenize",
                                               "/detokenize"};
    return one_of(e);
  }
  json valid_body(const std::string& path) {
    if (path == "/v1/chat/completions")
      return {{"model", "kjv"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"max_tokens", 4}};
    if (path == "/v1/completions") return {{"prompt", "In the beginning"}, {"max_tokens", 4}};
    if (path == "/tokenize") return {{"prompt", "In the beginning"}};
    return {{"tokens", {1, 2, 3}}};
  }

  std::string random_bytes() {  // binary garbage, ended so the server has a whole "request"
    std::string s = bytes(1 + pick(300), false);
    for (char& c : s)
      if (c == '\r' || c == '\n') c = 'x';
    return s + "\r\n\r\n";
  }
  std::string broken_request_line() {
    static const std::vector<std::string> lines = {"GET\r\n\r\n",
                                                   "GET /health\r\n\r\n",
                                                   "GET /health HTTP/9.9\r\n\r\n",
                                                   "GET /health HTTP/1.1x\r\n\r\n",
                                                   "FROB /v1/models HTTP/1.1\r\n\r\n",
                                                   "\r\n\r\n",
                                                   "GET  HTTP/1.1\r\n\r\n",
                                                   "POST /v1/completions HTTP/1.1 extra\r\n\r\n",
                                                   "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n",
                                                   "get /health http/1.1\r\n\r\n"};
    if (pick(3) == 0) return bytes(1 + pick(60), true) + " HTTP/1.1\r\n\r\n";
    return one_of(lines);
  }
  std::string broken_headers() {
    static const std::vector<std::string> headers = {
        "NoColonHere\r\n", ": empty-name\r\n", "X-Long: " + std::string(10000, 'h') + "\r\n",
        "Content-Length: 999999999999999\r\n", "Content-Length: 20000000\r\n"};
    const std::string& h = one_of(headers);
    return "POST " + endpoint() + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + h + "\r\n{\"prompt\": ";
  }
  std::string wrong_route() {
    static const std::vector<std::pair<std::string, std::string>> routes = {
        {"GET", "/v1/chat/completions"},
        {"GET", "/v1/completions"},
        {"PUT", "/v1/models"},
        {"POST", "/v1/models"},
        {"DELETE", "/health"},
        {"PATCH", "/tokenize"},
        {"GET", "/nope"},
        {"POST", "/v1/embeddings"},
        {"GET", "/v1/models/not-this-one"},
        {"POST", "/v1/chat/completions/extra"}};
    const auto& [method, path] = one_of(routes);
    if (pick(4) == 0) {  // random path
      std::string random_path = "/";
      random_path += bytes(1 + pick(40), true);
      return request("GET", random_path, "");
    }
    return request(method, path, valid_body("/v1/completions").dump());
  }
  std::string truncated_json() {
    const std::string path = endpoint();
    const std::string body = valid_body(path).dump();
    return request("POST", path, body.substr(0, pick(body.size() - 1)));
  }
  std::string not_json() {
    static const std::vector<std::string> bodies = {"",
                                                    "null",
                                                    "[]",
                                                    "42",
                                                    "\"text\"",
                                                    "{",
                                                    "}",
                                                    "{\"prompt\": \"\xff\xfe\"}",
                                                    "{'prompt': 'x'}",
                                                    "{\"prompt\": NaN}",
                                                    "{\"max_tokens\": 1e999, \"prompt\": \"x\"}",
                                                    "[{\"prompt\": \"x\"}]"};
    if (pick(3) == 0) return request("POST", endpoint(), bytes(1 + pick(200), false));
    return request("POST", endpoint(), one_of(bodies));
  }
  std::string invalid_fields() {
    // Values that fail the named field's rules, per endpoint.
    using Bad = std::vector<std::pair<std::string, json>>;
    static const Bad common = {
        {"max_tokens", -7},
        {"max_tokens", 0},
        {"max_tokens", 1.5},
        {"max_tokens", 1e300},
        {"max_tokens", "16"},
        {"max_tokens", 100000},
        {"temperature", -0.5},
        {"temperature", "hot"},
        {"temperature", 1e308},
        {"top_p", 0},
        {"top_p", 2},
        {"top_k", -2},
        {"min_p", 1.5},
        {"n", 0},
        {"n", 1000},
        {"stop", 5},
        {"stop", {1, 2}},
        {"stream", "yes"},
        {"stream_options", {{"include_usage", true}}},
        {"seed", "abc"},
        {"seed", 1.5},
        {"logit_bias", {1, 2}},
        {"logit_bias", {{"x", 1}}},
        {"logit_bias", {{"5", 1000}}},
        {"presence_penalty", 9},
        {"frequency_penalty", -9},
        {"repetition_penalty", 0},
        {"logprobs", "yes"},
        {"model", 12},
        {"model", "not-this-model"},
        {"response_format", {{"type", "json_schema"}}},
        {"tools", {{{"type", "function"}}}},
        {"min_tokens", -1},
        {"stop_token_ids", {99999}},
        {"stop_token_ids", "x"},
    };
    static const Bad chat = {
        {"messages", 42},
        {"messages", json::array()},
        {"messages", json::parse(R"([{"role": "wizard", "content": "x"}])")},
        {"messages", json::parse(R"([{"role": 5, "content": "x"}])")},
        {"messages", json::parse(R"([{"role": "user"}])")},
        {"messages", json::parse(R"([{"role": "user", "content": [{"type": "image_url"}]}])")},
        {"messages", json::parse(R"(["just a string"])")},
        {"top_logprobs", 50},
        {"top_logprobs", 3},
    };
    static const Bad completion = {
        {"prompt", json::object()},
        {"prompt", json::array()},
        {"prompt", {1, -5}},
        {"prompt", {1, 1u << 31}},
        {"prompt", json::parse(R"([[1, 2], "mixed", 3])")},
        {"prompt", json::parse(R"([[]])")},
        {"logprobs", 50},
        {"echo", "yes"},
        {"suffix", "and then"},
    };
    const bool is_chat = pick(2) == 0;
    const std::string path = is_chat ? "/v1/chat/completions" : "/v1/completions";
    json body = valid_body(path);
    const size_t n = 1 + pick(3);
    for (size_t i = 0; i < n; ++i) {
      const Bad& specific = is_chat ? chat : completion;
      const auto& [key, value] = pick(3) == 0 ? one_of(specific) : one_of(common);
      body[key] = value;
    }
    if (body.contains("stream_options")) body.erase("stream");
    std::string headers;
    if (pick(4) == 0) headers = "Authorization: " + bytes(pick(40), true) + "\r\n";
    if (pick(8) == 0)
      return request(
          "POST", "/detokenize",
          json{{"tokens", one_of(std::vector<json>{"abc", {-1}, {1u << 30}, {1.5}, json::object()})}}.dump());
    return request("POST", path, body.dump(), headers);
  }
  std::string bad_framing() {
    const std::string path = endpoint();
    switch (pick(4)) {
      case 0:  // Content-Length shorter than the body: the rest reads as a (bad) next request
        return "POST " + path +
               " HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{\"prompt\": \"In the beginning\"}";
      case 1:  // broken chunked encoding
        return "POST " + path +
               " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: "
               "chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
      case 2:  // too large for the body limit: refused before the body is sent
        return "POST " + path +
               " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 9000000\r\n\r\n";
      default:  // garbage Content-Length: the body is ignored, the request has none
        return "POST " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: abc\r\n\r\n{}";
    }
  }

  std::mt19937_64 rng_;
};

TEST(ServeFuzz, FiveHundredMalformedRequestsGet4xx) {
  test::ServeProcess server({"--served-model-name", "kjv", "--api-key", "fuzz-key"});
  const char* seed = std::getenv("NIBBLE_FUZZ_SEED");  // to explore: NIBBLE_FUZZ_SEED=n
  Fuzzer fuzz(seed ? std::strtoull(seed, nullptr, 10) : 20250701);
  int failures = 0;
  std::map<int, int> statuses;
  for (int i = 0; i < 500; ++i) {
    const std::string req = fuzz.next();
    std::string head;
    const int status = send_raw(server.port(), req, &head);
    ++statuses[status];
    if (status < 400 || status > 499) {
      ADD_FAILURE() << "request " << i << " got " << status << "\n--- request ---\n"
                    << req.substr(0, 400) << "\n--- response ---\n"
                    << head;
      if (++failures > 10) break;
    }
  }
  std::string summary;
  for (const auto& [status, count] : statuses) {
    summary += ' ';
    summary += std::to_string(status);
    summary += ':';
    summary += std::to_string(count);
  }
  std::printf("statuses:%s\n", summary.c_str());
  for (int expected : {400, 401, 404, 405, 411, 413}) EXPECT_GT(statuses[expected], 0) << expected << summary;
  ASSERT_TRUE(server.alive()) << server.log();
  std::string head;
  EXPECT_EQ(send_raw(server.port(), "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &head),
            200)
      << head;
  // And it still generates.
  auto c = server.client();
  c->set_bearer_token_auth("fuzz-key");
  auto r =
      c->Post("/v1/completions", R"({"prompt": "In the beginning", "max_tokens": 3})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

}  // namespace
}  // namespace nibble
