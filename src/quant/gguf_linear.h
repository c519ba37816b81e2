// A linear layer with llama.cpp block-quantized weights (Q8_0, Q4_0, Q4_K,
// Q5_K, Q6_K), as a GGUF file stores them: built from the raw blocks of a
// [rows, cols] weight (ne = [cols, rows]), repacked once into the GGUF
// kernels' panels (kernels/gguf_matmul.h), which it owns; the blocks are
// not kept, so a mapped file may be released after construction.
//
//   const io::GgufTensorInfo& t = ...;   // type Q4_K, ne = {2048, 5632}
//   quant::GgufLinear linear(t.type, data, 5632, 2048);
//   linear.forward(X, n, Y);             // Y = X W^T (+ bias)
//
// Other block types have no kernel: gguf_linear_supports() says which do;
// the caller dequantizes the rest (formats::dequantize_row) to a dense layer.
#pragma once

#include <cstdint>
#include <string>

#include "io/gguf.h"
#include "kernels/gguf_matmul.h"
#include "model/linear.h"

namespace nibble::quant {

bool gguf_linear_supports(io::GgmlType type);

class GgufLinear : public model::Linear {
 public:
  // `blocks`: rows * (cols / block_size) blocks of `type`, row after row.
  // Throws nibble::Error, naming `name`, for a type without a kernel or a
  // shape whose rows are not whole blocks.
  GgufLinear(io::GgmlType type, const void* blocks, int64_t rows, int64_t cols,
             const std::string& name = "gguf linear");

  std::string format() const override;  // the ggml type name, "Q4_K"
  // Bytes held: the packed codes and unpacked scales, including the zero
  // padding rows up to a multiple of 16 (GGUF's own size for Q4_0 and Q8_0,
  // 1-3% more for the k-quants).
  size_t weight_bytes() const override { return packed_.bytes(); }
  io::GgmlType type() const { return type_; }
  const kernels::GgufPackedMatrix& packed() const { return packed_; }

 protected:
  void multiply(const float* X, int64_t n, float* Y) const override;

 private:
  io::GgmlType type_;
  kernels::GgufPackedMatrix packed_;
};

}  // namespace nibble::quant
