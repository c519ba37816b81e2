#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"

namespace nibble::model {

void SamplingParams::validate() const {
  NIBBLE_CHECK(std::isfinite(temperature) && temperature >= 0 && temperature <= 100,
               "temperature must be between 0 and 100, got ", temperature);
  NIBBLE_CHECK(top_k >= 0, "top_k must be >= 0, got ", top_k);
  NIBBLE_CHECK(std::isfinite(top_p) && top_p > 0 && top_p <= 1, "top_p must be in (0, 1], got ",
               top_p);
  NIBBLE_CHECK(std::isfinite(min_p) && min_p >= 0 && min_p <= 1, "min_p must be in [0, 1], got ",
               min_p);
  NIBBLE_CHECK(std::isfinite(repetition_penalty) && repetition_penalty > 0 &&
                   repetition_penalty <= 10,
               "repetition_penalty must be in (0, 10], got ", repetition_penalty);
  NIBBLE_CHECK(repetition_window >= 0, "repetition window must be >= 0");
}

int argmax(const float* x, int n) { return int(std::max_element(x, x + n) - x); }

Sampler::Sampler(SamplingParams params) : params_(params), rng_(params.seed) { params_.validate(); }

int Sampler::sample(const float* logits, int vocab, const std::vector<int>& recent) {
  work_.assign(logits, logits + vocab);
  if (params_.repetition_penalty != 1.0f) {
    const size_t start =
        recent.size() > size_t(params_.repetition_window) ? recent.size() - params_.repetition_window : 0;
    std::vector<bool> seen(size_t(vocab), false);
    for (size_t i = start; i < recent.size(); ++i)
      if (recent[i] >= 0 && recent[i] < vocab) seen[recent[i]] = true;
    for (int t = 0; t < vocab; ++t)
      if (seen[t])
        work_[t] = work_[t] > 0 ? work_[t] / params_.repetition_penalty
                                : work_[t] * params_.repetition_penalty;
  }
  if (params_.temperature == 0.0f) return argmax(work_.data(), vocab);

  // Candidates sorted by logit, cut by top-k; probabilities at temperature.
  order_.resize(size_t(vocab));
  std::iota(order_.begin(), order_.end(), 0);
  const int k = params_.top_k > 0 ? std::min(params_.top_k, vocab) : vocab;
  auto by_logit = [&](int a, int b) { return work_[a] > work_[b] || (work_[a] == work_[b] && a < b); };
  std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), by_logit);
  order_.resize(size_t(k));
  std::vector<double>& probs = probs_;
  probs.resize(static_cast<size_t>(k));
  const double max = work_[order_[0]];
  double sum = 0;
  for (int i = 0; i < k; ++i) sum += probs[i] = std::exp((work_[order_[i]] - max) / params_.temperature);
  for (double& p : probs) p /= sum;

  // top-p keeps the smallest prefix reaching top_p; min-p drops tokens far below the best.
  size_t keep = 0;
  double cumulative = 0;
  while (keep < probs.size()) {
    if (keep > 0 && probs[keep] < params_.min_p * probs[0]) break;
    cumulative += probs[keep++];
    if (cumulative >= params_.top_p) break;
  }
  std::uniform_real_distribution<double> uniform(0.0, cumulative);
  double r = uniform(rng_);
  for (size_t i = 0; i < keep; ++i) {
    r -= probs[i];
    if (r <= 0) return order_[i];
  }
  return order_[keep - 1];
}

}  // namespace nibble::model
