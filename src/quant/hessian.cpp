#include "quant/hessian.h"

#include <cblas.h>

#include "core/error.h"

namespace nibble::quant {

HessianAccumulator::HessianAccumulator(int64_t cols) : cols_(cols), sum_(size_t(cols * cols), 0.0f) {}

void HessianAccumulator::add(const float* X, int64_t tokens, int64_t sequences) {
  if (tokens == 0) return;
  // Row-major X (tokens x cols): Xᵀ X is "transposed" syrk in column-major terms.
  cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, int(cols_), int(tokens), 1.0f, X,
              int(cols_), 1.0f, sum_.data(), int(cols_));
  sequences_ += sequences;
}

void HessianAccumulator::merge(const HessianAccumulator& other) {
  NIBBLE_CHECK(other.cols_ == cols_, "merging Hessians of different sizes");
  for (size_t i = 0; i < sum_.size(); ++i) sum_[i] += other.sum_[i];
  sequences_ += other.sequences_;
}

std::vector<float> HessianAccumulator::hessian() const {
  NIBBLE_CHECK(sequences_ > 0, "Hessian has no calibration data");
  std::vector<float> h(sum_.size());
  const float scale = 2.0f / float(sequences_);
  for (int64_t i = 0; i < cols_; ++i)
    for (int64_t j = i; j < cols_; ++j)
      h[i * cols_ + j] = h[j * cols_ + i] = sum_[i * cols_ + j] * scale;
  return h;
}

std::vector<float> HessianAccumulator::sum_of_squares() const {
  std::vector<float> d(static_cast<size_t>(cols_));
  for (int64_t i = 0; i < cols_; ++i) d[i] = sum_[i * cols_ + i];
  return d;
}

}  // namespace nibble::quant
