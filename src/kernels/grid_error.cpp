// Picks grid_error's ISA build (dispatch.h).
#include "kernels/grid_error.h"

#include "kernels/dispatch.h"

namespace nibble::kernels {

namespace {
constexpr IsaKernels<GridErrorFn> kGridError{grid_error_ref, avx2::grid_error, avx512::grid_error};
}  // namespace

float grid_error(const float* w, int64_t n, float scale, float zero, float maxq, float norm) {
  return pick(kGridError)(w, n, scale, zero, maxq, norm);
}

}  // namespace nibble::kernels
