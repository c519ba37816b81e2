#include "quant/gguf_linear.h"

#include "core/error.h"

namespace nibble::quant {

bool gguf_linear_supports(io::GgmlType type) {
  return kernels::gguf_kernel_supports(uint32_t(type));
}

namespace {

kernels::GgufPackedMatrix pack_checked(io::GgmlType type, const void* blocks, int64_t rows,
                                       int64_t cols, const std::string& name) {
  NIBBLE_CHECK(gguf_linear_supports(type), name, ": no kernel for ggml type ",
               io::ggml_type_name(type), " (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K have one)");
  const int64_t block = io::ggml_type_info(type).block_size;
  NIBBLE_CHECK(rows > 0 && cols > 0 && cols % block == 0, name, ": ", io::ggml_type_name(type),
               " weight of ", rows, " x ", cols, " needs rows of whole ", block, "-value blocks");
  NIBBLE_CHECK(blocks != nullptr, name, ": no weight data");
  return kernels::GgufPackedMatrix::pack(kernels::GgufKernelType(uint32_t(type)), blocks, rows,
                                         cols);
}

}  // namespace

GgufLinear::GgufLinear(io::GgmlType type, const void* blocks, int64_t rows, int64_t cols,
                       const std::string& name)
    : Linear(cols, rows), type_(type), packed_(pack_checked(type, blocks, rows, cols, name)) {}

std::string GgufLinear::format() const { return io::ggml_type_name(type_); }

void GgufLinear::multiply(const float* X, int64_t n, float* Y) const {
  kernels::gguf_matmul(packed_.view(), X, n, Y);
}

}  // namespace nibble::quant
