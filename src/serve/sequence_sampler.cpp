#include "serve/sequence_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace nibble::serve {

SequenceSampler::SequenceSampler(const SamplingOptions& options, int vocab)
    : options_(options), vocab_(vocab), sampler_(options.params) {}

int SequenceSampler::sample(const float* logits, const std::vector<int>& history,
                            const std::vector<int>& banned) {
  const bool adjust =
      !options_.logit_bias.empty() || !banned.empty() ||
      ((options_.presence_penalty != 0 || options_.frequency_penalty != 0) && !counts_.empty());
  if (!adjust) return sampler_.sample(logits, vocab_, history);
  work_.assign(logits, logits + vocab_);
  for (const auto& [id, bias] : options_.logit_bias)
    if (id >= 0 && id < vocab_) work_[id] += bias;
  for (const auto& [id, count] : counts_)
    if (id >= 0 && id < vocab_)
      work_[id] -= options_.frequency_penalty * float(count) + options_.presence_penalty;
  for (int id : banned)
    if (id >= 0 && id < vocab_) work_[id] = -std::numeric_limits<float>::infinity();
  return sampler_.sample(work_.data(), vocab_, history);
}

TokenLogprob token_logprobs(const float* logits, int vocab, int chosen, int top) {
  const float max = *std::max_element(logits, logits + vocab);
  double sum = 0;
  for (int i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - max);
  const double log_z = max + std::log(sum);
  // -inf is not JSON; a very negative number says the same.
  auto logprob = [&](int id) { return float(std::max(double(logits[id]) - log_z, -9999.0)); };
  TokenLogprob out;
  out.id = chosen;
  out.logprob = logprob(chosen);
  if (top > 0) {
    std::vector<int> order(static_cast<size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    const int k = std::min(top, vocab);
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    });
    for (int i = 0; i < k; ++i) out.top.emplace_back(order[i], logprob(order[i]));
  }
  return out;
}

}  // namespace nibble::serve
