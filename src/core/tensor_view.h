// A read-only view of a stored tensor: element type, shape and the bytes,
// usually pointing into a memory-mapped file that outlives the view.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace nibble {

struct TensorView {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  size_t nbytes = 0;

  int64_t numel() const { return shape_numel(shape); }
  int64_t dim(size_t i) const { return shape.at(i); }
  std::string shape_string() const;  // "[256, 1024]"
};

}  // namespace nibble
