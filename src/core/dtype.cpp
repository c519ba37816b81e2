#include "core/dtype.h"

#include <cstring>

#include "core/error.h"
#include "core/half.h"

namespace nibble {
namespace {
struct DTypeInfo {
  DType type;
  std::string_view name;
  size_t size;
};
constexpr DTypeInfo kTypes[] = {
    {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::F64, "F64", 8}, {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
    {DType::I16, "I16", 2}, {DType::I32, "I32", 4}, {DType::I64, "I64", 8},
    {DType::BOOL, "BOOL", 1},
};
}  // namespace

size_t dtype_size(DType t) {
  for (const auto& info : kTypes)
    if (info.type == t) return info.size;
  return 0;
}

std::string_view dtype_name(DType t) {
  for (const auto& info : kTypes)
    if (info.type == t) return info.name;
  return "?";
}

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& info : kTypes)
    if (info.name == name) return info.type;
  return std::nullopt;
}

int64_t shape_numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    NIBBLE_CHECK(d >= 0, "negative dimension ", d);
    NIBBLE_CHECK(d == 0 || n <= (int64_t(1) << 48) / d, "shape too large");
    n *= d;
  }
  return n;
}

namespace {

// Element i of a 16-bit array that may sit at any address: safetensors
// packs tensors without alignment, so a view can start at an odd byte.
uint16_t load_u16(const void* src, size_t i) {
  uint16_t v;
  std::memcpy(&v, static_cast<const uint8_t*>(src) + 2 * i, 2);
  return v;
}

}  // namespace

void convert_to_f32(DType t, const void* src, float* dst, size_t n) {
  switch (t) {
    case DType::F32:
      std::memcpy(dst, src, n * 4);
      return;
    case DType::BF16: {
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(src, i));
      return;
    }
    case DType::F16: {
      for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(load_u16(src, i));
      return;
    }
    default:
      fail("cannot convert ", dtype_name(t), " to f32");
  }
}

}  // namespace nibble
