#include "serve/metrics.h"

#include <cstdio>
#include <sstream>

namespace nibble::serve {

namespace {
std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string escape_label(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::ostringstream& out, const std::string& name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}
}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

std::string Histogram::render(const std::string& name, const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream out;
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out << name << "_bucket{" << labels << ",le=\"" << le << "\"} " << cumulative << '\n';
  }
  out << name << "_sum{" << labels << "} " << number(sum_) << '\n';
  out << name << "_count{" << labels << "} " << count_ << '\n';
  return out.str();
}

Metrics::Metrics(std::string model_name)
    : time_to_first_token({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
                           7.5, 10.0, 20.0, 40.0, 80.0}),
      time_per_output_token({0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
                             0.75, 1.0, 2.5, 5.0}),
      e2e_latency({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0,
                   240.0, 480.0}),
      labels_("model_name=\"" + escape_label(model_name) + "\"") {}

void Metrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{endpoint, status}];
}

void Metrics::count_finished(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++finished_[reason];
}

void Metrics::count_step(int tokens) {
  ++steps_;
  step_tokens_ += tokens;
}

std::string Metrics::render() const {
  std::ostringstream out;
  header(out, "nibble:num_requests_running", "gauge", "Sequences in the running batch.");
  out << "nibble:num_requests_running{" << labels_ << "} " << running_ << '\n';
  header(out, "nibble:num_requests_waiting", "gauge", "Sequences waiting for a batch slot.");
  out << "nibble:num_requests_waiting{" << labels_ << "} " << waiting_ << '\n';
  header(out, "nibble:kv_cache_usage_perc", "gauge", "Fraction of KV-cache positions in use.");
  out << "nibble:kv_cache_usage_perc{" << labels_ << "} " << number(kv_usage_x1e6_ / 1e6) << '\n';
  header(out, "nibble:prompt_tokens_total", "counter", "Prompt tokens processed.");
  out << "nibble:prompt_tokens_total{" << labels_ << "} " << prompt_tokens_ << '\n';
  header(out, "nibble:generation_tokens_total", "counter", "Tokens generated.");
  out << "nibble:generation_tokens_total{" << labels_ << "} " << generated_tokens_ << '\n';
  header(out, "nibble:iterations_total", "counter", "Engine steps (one forward pass each).");
  out << "nibble:iterations_total{" << labels_ << "} " << steps_ << '\n';
  header(out, "nibble:iteration_tokens_total", "counter", "Tokens run through the model, all steps.");
  out << "nibble:iteration_tokens_total{" << labels_ << "} " << step_tokens_ << '\n';
  {
    std::lock_guard<std::mutex> lock(mu_);
    header(out, "nibble:http_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
    for (const auto& [key, count] : requests_)
      out << "nibble:http_requests_total{" << labels_ << ",endpoint=\"" << escape_label(key.first)
          << "\",status=\"" << key.second << "\"} " << count << '\n';
    header(out, "nibble:request_success_total", "counter", "Finished sequences, by finish reason.");
    for (const auto& [reason, count] : finished_)
      out << "nibble:request_success_total{" << labels_ << ",finished_reason=\"" << reason << "\"} " << count
          << '\n';
  }
  header(out, "nibble:time_to_first_token_seconds", "histogram", "Time from arrival to first token.");
  out << time_to_first_token.render("nibble:time_to_first_token_seconds", labels_);
  header(out, "nibble:time_per_output_token_seconds", "histogram", "Time between output tokens.");
  out << time_per_output_token.render("nibble:time_per_output_token_seconds", labels_);
  header(out, "nibble:e2e_request_latency_seconds", "histogram", "Time from arrival to finish.");
  out << e2e_latency.render("nibble:e2e_request_latency_seconds", labels_);
  return out.str();
}

}  // namespace nibble::serve
