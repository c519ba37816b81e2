// A linear layer y = W x (+ b) in whatever format its weights are stored in.
// The model only sees this interface; each weight format (dense f32/bf16,
// group-wise integer, GGUF blocks, NF4, ...) provides an implementation that
// owns its weights in the kernel's layout and calls that format's kernel.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor_view.h"

namespace nibble::model {

class Linear {
 public:
  Linear(int64_t in_features, int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  virtual ~Linear() = default;

  // Y[t, :] = W X[t, :] + b for t < n. X is n x in_features, Y n x out_features.
  void forward(const float* X, int64_t n, float* Y) const;

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  virtual std::string format() const = 0;   // "bf16", "gptq-w4g128", ...
  virtual size_t weight_bytes() const = 0;   // bytes of weights held (incl. scales)
  void set_bias(std::vector<float> bias) { bias_ = std::move(bias); }

 protected:
  virtual void multiply(const float* X, int64_t n, float* Y) const = 0;

 private:
  int64_t in_features_, out_features_;
  std::vector<float> bias_;
};

// Dense weights in f32 or bf16, used in place from the mapped file (f16 is
// widened to f32 at load, since there is no fast f16 path).
class DenseLinear : public Linear {
 public:
  explicit DenseLinear(const TensorView& weight);
  std::string format() const override;
  size_t weight_bytes() const override;

 protected:
  void multiply(const float* X, int64_t n, float* Y) const override;

 private:
  DType dtype_;
  const void* data_;
  std::vector<float> widened_;  // owned f32 copy when the source was f16
};

}  // namespace nibble::model
