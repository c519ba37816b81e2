#include "quant/bnb_linear.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/bnb_matmul.h"
#include "kernels/dense.h"

namespace nibble::quant {

FourBitLinear::FourBitLinear(FourBitWeight weight, const std::string& name)
    : Linear(weight.shape.size() == 2 ? weight.shape[1] : 0,
             weight.shape.size() == 2 ? weight.shape[0] : 0),
      w_(std::move(weight)) {
  NIBBLE_CHECK(w_.shape.size() == 2, name, ": 4-bit weight shape must be [out, in]");
  NIBBLE_CHECK(in_features() % kernels::kBnbBlock == 0, name, ": in_features ", in_features(),
               " is not a multiple of 64, which the 4-bit kernel needs");
  NIBBLE_CHECK(int64_t(w_.absmax.size()) * kernels::kBnbBlock == w_.numel() &&
                   int64_t(w_.packed.size()) * 2 == w_.numel(),
               name, ": 4-bit weight has ", w_.packed.size(), " code bytes and ", w_.absmax.size(),
               " absmax values for ", w_.numel(), " weights");
}

std::string FourBitLinear::format() const {
  return four_bit_name(w_.type) + (w_.double_quant ? "-dq" : "");
}

size_t FourBitLinear::weight_bytes() const {
  return w_.packed.size() + w_.absmax.size() * sizeof(float);
}

void FourBitLinear::multiply(const float* X, int64_t n, float* Y) const {
  kernels::matmul_4bit({w_.packed.data(), w_.absmax.data(), w_.table.data(), out_features(),
                        in_features()},
                       X, n, Y);
}

Int8Linear::Int8Linear(Int8Weight weight, float threshold)
    : Linear(weight.cols, weight.rows), w_(std::move(weight)), threshold_(threshold) {}

size_t Int8Linear::weight_bytes() const { return w_.cb.size() + w_.scb.size() * sizeof(float); }

void Int8Linear::multiply(const float* X, int64_t n, float* Y) const {
  const int64_t cols = in_features(), rows = out_features();
  const bool decompose = threshold_ > 0;
  // Outlier columns: any token with |x| >= threshold there.
  std::vector<int64_t> outliers;
  if (decompose)
    for (int64_t c = 0; c < cols; ++c)
      for (int64_t t = 0; t < n; ++t)
        if (std::fabs(X[t * cols + c]) >= threshold_) {
          outliers.push_back(c);
          break;
        }
  thread_local std::vector<int8_t> xq;
  thread_local std::vector<float> xscale;
  xq.assign(size_t(n * cols), 0);
  xscale.assign(size_t(n), 0.0f);
  for (int64_t t = 0; t < n; ++t) {
    const float* x = X + t * cols;
    float m = 0;  // outlier values do not count towards the token's scale
    for (int64_t c = 0; c < cols; ++c)
      if (!decompose || std::fabs(x[c]) < threshold_) m = std::max(m, std::fabs(x[c]));
    xscale[t] = m;
    const float inv = m > 0 ? 127.0f / m : 0.0f;
    for (int64_t c = 0; c < cols; ++c)
      xq[t * cols + c] = int8_t(std::clamp(std::nearbyint(x[c] * inv), -127.0f, 127.0f));
    for (int64_t c : outliers) xq[t * cols + c] = 0;
  }
  kernels::matmul_int8(w_.cb.data(), w_.scb.data(), rows, cols, xq.data(), xscale.data(), n, Y);
  // The outlier columns in f32: gathered into a dense product with the
  // weights dequantized from CB/SCB.
  if (outliers.empty()) return;
  const int64_t k = int64_t(outliers.size());
  thread_local std::vector<float> xo, wo, yo;
  xo.resize(size_t(n * k));
  wo.resize(size_t(rows * k));
  yo.resize(size_t(n * rows));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < k; ++j) xo[t * k + j] = X[t * cols + outliers[j]];
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < k; ++j)
      wo[r * k + j] = float(w_.cb[r * cols + outliers[j]]) * (w_.scb[r] / 127.0f);
  kernels::matmul_f32(wo.data(), rows, k, xo.data(), n, yo.data());
  for (int64_t i = 0; i < n * rows; ++i) Y[i] += yo[i];
}

}  // namespace nibble::quant
