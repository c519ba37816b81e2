// Element types of stored tensors, with the names safetensors uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace nibble {

enum class DType { F32, F16, BF16, F64, I8, U8, I16, I32, I64, BOOL };

size_t dtype_size(DType t);
std::string_view dtype_name(DType t);                       // "F32", "BF16", ...
std::optional<DType> dtype_from_name(std::string_view name);

// Number of elements of a shape; throws Error on negative dims or overflow.
int64_t shape_numel(const std::vector<int64_t>& shape);

// Converts n elements of a floating type (F32, F16, BF16) to f32.
void convert_to_f32(DType t, const void* src, float* dst, size_t n);

}  // namespace nibble
