#include "model/ops.h"

#include <cmath>

namespace nibble::model {

void rmsnorm(const float* x, const float* weight, int64_t n, double eps, float* out) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  const float scale = float(1.0 / std::sqrt(ss / double(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void silu_mul(const float* gate, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= gate[i] / (1.0f + std::exp(-gate[i]));
}

void softmax(float* x, int64_t n) {
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = std::max(max, x[i]);
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (x[i] = std::exp(x[i] - max));
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

Rope::Rope(const io::ModelConfig& c) : head_dim_(c.head_dim), interleaved_(c.rope_interleaved) {
  const auto& s = c.rope_scaling;
  for (int i = 0; i < head_dim_ / 2; ++i) {
    double f = c.rope_inv_freq(i);
    if (s.type == "linear") f /= s.factor;
    if (s.type == "llama3") f /= s.llama3_divisor(f);
    if (!s.freq_factors.empty()) f /= s.freq_factors[size_t(i)];
    inv_freq_.push_back(float(f));
  }
}

void Rope::apply(float* x, int n_heads, int pos) const {
  const int half = head_dim_ / 2;
  for (int i = 0; i < half; ++i) {
    const float angle = float(pos) * inv_freq_[i];
    const float c = std::cos(angle), s = std::sin(angle);
    for (int h = 0; h < n_heads; ++h) {
      float* head = x + int64_t(h) * head_dim_;
      const int a = interleaved_ ? 2 * i : i;
      const int b = interleaved_ ? 2 * i + 1 : i + half;
      const float x0 = head[a], x1 = head[b];
      head[a] = x0 * c - x1 * s;
      head[b] = x0 * s + x1 * c;
    }
  }
}

}  // namespace nibble::model
