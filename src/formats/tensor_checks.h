// The check every codec makes of a stored tensor before reading it.
#pragma once

#include <string>
#include <vector>

#include "core/tensor_view.h"

namespace nibble::formats {

// Throws Error "<name>: expected <dtype> <shape>, found ..." unless t matches.
void expect_tensor(const TensorView& t, DType dtype, std::vector<int64_t> shape, const std::string& name);

}  // namespace nibble::formats
