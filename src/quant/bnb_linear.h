// Runtime linears for bitsandbytes weights (specs/bitsandbytes.md §1, §6).
//
// FourBitLinear: NF4/FP4 codes in bnb's packing with a f32 absmax per block
// of 64 (double-quantized absmax is expanded once, at load), on the 4-bit
// lookup kernel with f32 activations.
//
// Int8Linear: LLM.int8. Each product finds the input columns where any
// token has |x| ≥ threshold (6.0); those columns go through f32 with the
// dequantized weights, the rest through the vector-wise int8 kernel (per
// token absmax over the non-outlier values, per row SCB). threshold ≤ 0
// turns the decomposition off.
#pragma once

#include <string>

#include "model/linear.h"
#include "quant/bnb_codes.h"

namespace nibble::quant {

class FourBitLinear : public model::Linear {
 public:
  explicit FourBitLinear(FourBitWeight weight, const std::string& name = "4-bit linear");
  std::string format() const override;
  size_t weight_bytes() const override;
  const FourBitWeight& weight() const { return w_; }

 protected:
  void multiply(const float* X, int64_t n, float* Y) const override;

 private:
  FourBitWeight w_;
};

constexpr float kInt8Threshold = 6.0f;

class Int8Linear : public model::Linear {
 public:
  explicit Int8Linear(Int8Weight weight, float threshold = kInt8Threshold);
  std::string format() const override { return "int8"; }
  size_t weight_bytes() const override;
  const Int8Weight& weight() const { return w_; }

 protected:
  void multiply(const float* X, int64_t n, float* Y) const override;

 private:
  Int8Weight w_;
  float threshold_;
};

}  // namespace nibble::quant
