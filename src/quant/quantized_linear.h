// A linear layer with group-wise integer weights: built from the canonical
// QuantTensor, repacked once into the integer kernels' runtime layout
// (kernels/qmatmul.h), which it owns; the QuantTensor is not kept.
//
//   quant::QuantTensor q = quant::rtn_quantize_tensor(W, out, in, {4, 128});
//   auto linear = std::make_unique<quant::QuantizedLinear>(q);
//   linear->forward(X, n, Y);
//
// Activations are quantized to int8 per block of 32 on each call (see
// kernels/qmatmul.h for the arithmetic and its error against f32).
#pragma once

#include <string>

#include "kernels/qmatmul.h"
#include "model/linear.h"
#include "quant/quant_tensor.h"

namespace nibble::quant {

class QuantizedLinear : public model::Linear {
 public:
  // Validates q (QuantTensor::validate, naming `name`) and repacks it.
  explicit QuantizedLinear(const QuantTensor& q, const std::string& name = "quantized linear");

  std::string format() const override { return format_; }  // QuantTensor::format()
  // Bytes held for the weights: packed codes, fp16 scales and zeros (also
  // for symmetric grids, and for the padding rows of the last block of 16
  // rows and columns of a group up to a multiple of 32), plus the column
  // map of act-order layers.
  size_t weight_bytes() const override { return packed_.bytes(); }
  const kernels::PackedQuantMatrix& packed() const { return packed_; }

 protected:
  void multiply(const float* X, int64_t n, float* Y) const override;

 private:
  kernels::PackedQuantMatrix packed_;
  std::string format_;
};

}  // namespace nibble::quant
