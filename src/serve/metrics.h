// Server metrics in the Prometheus text format (GET /metrics), with vLLM's
// semantic set under a "nibble:" prefix: requests by endpoint and status,
// prompt and generated token counters, running/waiting gauges, KV-cache use,
// finished requests by reason, and latency histograms (time to first token,
// time per output token, end to end). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace nibble::serve {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // The _bucket/_sum/_count lines for metric `name`.
  std::string render(const std::string& name, const std::string& labels) const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  explicit Metrics(std::string model_name);

  void count_request(const std::string& endpoint, int status);
  void count_finished(const std::string& reason);
  void add_prompt_tokens(int64_t n) { prompt_tokens_ += n; }
  void add_generated_tokens(int64_t n) { generated_tokens_ += n; }
  void set_running(int n) { running_ = n; }
  void set_waiting(int n) { waiting_ = n; }
  void set_kv_usage(double ratio) { kv_usage_x1e6_ = int64_t(ratio * 1e6); }
  void count_step(int tokens);

  Histogram time_to_first_token, time_per_output_token, e2e_latency;

  int running() const { return running_; }
  int waiting() const { return waiting_; }
  std::string render() const;

 private:
  std::string labels_;  // model_name="..."
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, uint64_t> finished_;
  std::atomic<int64_t> prompt_tokens_{0}, generated_tokens_{0}, steps_{0}, step_tokens_{0};
  std::atomic<int> running_{0}, waiting_{0};
  std::atomic<int64_t> kv_usage_x1e6_{0};
};

}  // namespace nibble::serve
