// Type dispatch for the GGUF block codecs, and the float types.
#include "formats/gguf_blocks.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "formats/gguf_blocks_internal.h"

namespace nibble::formats {

using namespace gguf_detail;

int gguf_nearest_int(float x) {
  const float shifted = x + 12582912.f;  // 1.5 * 2^23: the integer lands in the mantissa
  int32_t bits;
  std::memcpy(&bits, &shifted, 4);
  return (bits & 0x007fffff) - 0x00400000;
}

bool gguf_codec_supports(GgmlType type) {
  switch (type) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1:
    case GgmlType::Q8_0: case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K:
    case GgmlType::Q5_K: case GgmlType::Q6_K: case GgmlType::Q8_K: case GgmlType::IQ4_NL:
      return true;
    default:
      return false;
  }
}

namespace {

// Blocks in a row of n values; throws unless the type is supported and n fits.
int64_t block_count(const char* what, GgmlType type, int64_t n) {
  NIBBLE_CHECK(gguf_codec_supports(type), what, ": no codec for ggml type ",
               io::ggml_type_name(type));
  const int64_t block = io::ggml_type_info(type).block_size;
  NIBBLE_CHECK(n >= 0 && n % block == 0, what, ": ", io::ggml_type_name(type), " row of ", n,
               " values is not a whole number of ", block, "-value blocks");
  return n / block;
}

}  // namespace

uint64_t gguf_row_bytes(GgmlType type, int64_t n) {
  return uint64_t(block_count("gguf_row_bytes", type, n)) * io::ggml_type_info(type).type_size;
}

void dequantize_row(GgmlType type, const void* blocks, float* out, int64_t n) {
  const int64_t nb = block_count("dequantize_row", type, n);
  if (nb == 0) return;
  switch (type) {
    case GgmlType::F32:
      std::memcpy(out, blocks, size_t(n) * 4);
      return;
    case GgmlType::F16: {
      const auto* h = static_cast<const uint16_t*>(blocks);
      for (int64_t i = 0; i < n; ++i) out[i] = f16_to_f32(h[i]);
      return;
    }
    case GgmlType::BF16: {
      const auto* h = static_cast<const uint16_t*>(blocks);
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_f32(h[i]);
      return;
    }
    case GgmlType::Q4_0: return dequantize_q4_0(static_cast<const BlockQ4_0*>(blocks), out, nb);
    case GgmlType::Q4_1: return dequantize_q4_1(static_cast<const BlockQ4_1*>(blocks), out, nb);
    case GgmlType::Q5_0: return dequantize_q5_0(static_cast<const BlockQ5_0*>(blocks), out, nb);
    case GgmlType::Q5_1: return dequantize_q5_1(static_cast<const BlockQ5_1*>(blocks), out, nb);
    case GgmlType::Q8_0: return dequantize_q8_0(static_cast<const BlockQ8_0*>(blocks), out, nb);
    case GgmlType::IQ4_NL:
      return dequantize_iq4_nl(static_cast<const BlockIq4Nl*>(blocks), out, nb);
    case GgmlType::Q2_K: return dequantize_q2_K(static_cast<const BlockQ2_K*>(blocks), out, nb);
    case GgmlType::Q3_K: return dequantize_q3_K(static_cast<const BlockQ3_K*>(blocks), out, nb);
    case GgmlType::Q4_K: return dequantize_q4_K(static_cast<const BlockQ4_K*>(blocks), out, nb);
    case GgmlType::Q5_K: return dequantize_q5_K(static_cast<const BlockQ5_K*>(blocks), out, nb);
    case GgmlType::Q6_K: return dequantize_q6_K(static_cast<const BlockQ6_K*>(blocks), out, nb);
    case GgmlType::Q8_K: return dequantize_q8_K(static_cast<const BlockQ8_K*>(blocks), out, nb);
    default: break;
  }
  fail("dequantize_row: unreachable type ", io::ggml_type_name(type));
}

void quantize_row(GgmlType type, const float* x, void* blocks, int64_t n,
                  const float* importance) {
  const int64_t nb = block_count("quantize_row", type, n);
  if (nb == 0) return;
  // llama.cpp would write garbage blocks for these and then reject the row
  // (ggml_validate_row_data); we refuse up front, naming the column.
  for (int64_t i = 0; i < n; ++i)
    NIBBLE_CHECK(std::isfinite(x[i]), "quantize_row: ", io::ggml_type_name(type),
                 " input value at column ", i, " is not finite");
  if (importance)
    for (int64_t i = 0; i < n; ++i)
      NIBBLE_CHECK(std::isfinite(importance[i]) && importance[i] >= 0, "quantize_row: ",
                   io::ggml_type_name(type), " importance at column ", i,
                   " is not a finite non-negative number");
  switch (type) {
    case GgmlType::F32:
      std::memcpy(blocks, x, size_t(n) * 4);
      return;
    case GgmlType::F16: {
      auto* h = static_cast<uint16_t*>(blocks);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_f16(x[i]);
      return;
    }
    case GgmlType::BF16: {
      auto* h = static_cast<uint16_t*>(blocks);
      for (int64_t i = 0; i < n; ++i) h[i] = f32_to_bf16(x[i]);
      return;
    }
    case GgmlType::Q4_0: return quantize_q4_0(x, static_cast<BlockQ4_0*>(blocks), nb, importance);
    case GgmlType::Q4_1: return quantize_q4_1(x, static_cast<BlockQ4_1*>(blocks), nb, importance);
    case GgmlType::Q5_0: return quantize_q5_0(x, static_cast<BlockQ5_0*>(blocks), nb, importance);
    case GgmlType::Q5_1: return quantize_q5_1(x, static_cast<BlockQ5_1*>(blocks), nb, importance);
    case GgmlType::Q8_0: return quantize_q8_0(x, static_cast<BlockQ8_0*>(blocks), nb);
    case GgmlType::IQ4_NL:
      return quantize_iq4_nl(x, static_cast<BlockIq4Nl*>(blocks), nb, importance);
    case GgmlType::Q2_K: return quantize_q2_K(x, static_cast<BlockQ2_K*>(blocks), nb, importance);
    case GgmlType::Q3_K: return quantize_q3_K(x, static_cast<BlockQ3_K*>(blocks), nb, importance);
    case GgmlType::Q4_K: return quantize_q4_K(x, static_cast<BlockQ4_K*>(blocks), nb, importance);
    case GgmlType::Q5_K: return quantize_q5_K(x, static_cast<BlockQ5_K*>(blocks), nb, importance);
    case GgmlType::Q6_K: return quantize_q6_K(x, static_cast<BlockQ6_K*>(blocks), nb, importance);
    case GgmlType::Q8_K: return quantize_q8_K(x, static_cast<BlockQ8_K*>(blocks), nb);
    default: break;
  }
  fail("quantize_row: unreachable type ", io::ggml_type_name(type));
}

}  // namespace nibble::formats
