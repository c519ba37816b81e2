#include "quant/quantized_linear.h"

namespace nibble::quant {
namespace {

kernels::QuantSource source_of(const QuantTensor& q, const std::string& name) {
  q.validate(name);
  kernels::QuantSource s;
  s.rows = q.rows;
  s.cols = q.cols;
  s.bits = q.bits;
  s.group_size = q.group_size;
  s.codes = q.codes.data();
  s.scales = q.scales.data();
  s.zeros = q.zeros.data();
  s.g_idx = q.g_idx.empty() ? nullptr : q.g_idx.data();
  return s;
}

}  // namespace

QuantizedLinear::QuantizedLinear(const QuantTensor& q, const std::string& name)
    : Linear(q.cols, q.rows), packed_(source_of(q, name)), format_(q.format()) {}

void QuantizedLinear::multiply(const float* X, int64_t n, float* Y) const {
  kernels::qmatmul(packed_, X, n, Y);
}

}  // namespace nibble::quant
