#include "model/ops.h"

#include <cmath>

#include "kernels/activations.h"

namespace nibble::model {

void rmsnorm(const float* x, const float* weight, int64_t n, double eps, float* out) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  const float scale = float(1.0 / std::sqrt(ss / double(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * weight[i];
}

void silu_mul(const float* gate, float* y, int64_t n) { kernels::silu_mul(gate, y, n); }

void softmax(float* x, int64_t n) { kernels::softmax(x, n); }

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
