#include "formats/tensor_checks.h"

#include "core/error.h"

namespace nibble::formats {

void expect_tensor(const TensorView& t, DType dtype, std::vector<int64_t> shape, const std::string& name) {
  TensorView want;
  want.shape = std::move(shape);
  NIBBLE_CHECK(t.dtype == dtype && t.shape == want.shape, name, ": expected ", dtype_name(dtype), " ",
               want.shape_string(), ", found ", dtype_name(t.dtype), " ", t.shape_string());
}

}  // namespace nibble::formats
