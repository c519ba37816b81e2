#include "model/linear.h"

#include "core/error.h"
#include "kernels/dense.h"

namespace nibble::model {

void Linear::forward(const float* X, int64_t n, float* Y) const {
  multiply(X, n, Y);
  if (bias_.empty()) return;
  for (int64_t t = 0; t < n; ++t)
    for (int64_t r = 0; r < out_features_; ++r) Y[t * out_features_ + r] += bias_[r];
}

DenseLinear::DenseLinear(const TensorView& weight)
    : Linear(weight.dim(1), weight.dim(0)), dtype_(weight.dtype), data_(weight.data) {
  if (dtype_ == DType::F16) {
    widened_.resize(weight.numel());
    convert_to_f32(DType::F16, weight.data, widened_.data(), widened_.size());
    dtype_ = DType::F32;
    data_ = widened_.data();
  }
  NIBBLE_CHECK(dtype_ == DType::F32 || dtype_ == DType::BF16, "dense weight of type ",
               dtype_name(weight.dtype), " is not supported (F32, F16, BF16)");
}

std::string DenseLinear::format() const { return dtype_ == DType::BF16 ? "bf16" : "f32"; }

size_t DenseLinear::weight_bytes() const {
  return size_t(in_features() * out_features()) * dtype_size(dtype_);
}

void DenseLinear::multiply(const float* X, int64_t n, float* Y) const {
  if (dtype_ == DType::BF16)
    kernels::matmul_bf16(static_cast<const uint16_t*>(data_), out_features(), in_features(), X, n, Y);
  else
    kernels::matmul_f32(static_cast<const float*>(data_), out_features(), in_features(), X, n, Y);
}

}  // namespace nibble::model
