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
    double f = 1.0 / std::pow(c.rope_theta, 2.0 * i / head_dim_);
    if (s.type == "linear") {
      f /= s.factor;
    } else if (s.type == "llama3") {
      // Llama 3.1: long wavelengths are slowed by `factor`, short ones kept,
      // and the band between is interpolated smoothly.
      const double old_ctx = s.original_max_position_embeddings;
      const double low_wavelen = old_ctx / s.low_freq_factor;
      const double high_wavelen = old_ctx / s.high_freq_factor;
      const double wavelen = 2 * M_PI / f;
      if (wavelen > low_wavelen) {
        f /= s.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (old_ctx / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1 - smooth) * f / s.factor + smooth * f;
      }
    }
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
