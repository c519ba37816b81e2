// The affine grid of one group of weights (specs/gptq.md §4): scale and
// integer zero point such that w ≈ scale · (q − zero), q ∈ [0, 2^bits − 1].
// The range always contains 0; symmetric grids fix zero at 2^(bits−1).
// Scales are rounded to fp16, the precision every checkpoint stores.
// Rounding is half-to-even, as torch.round does.
#pragma once

#include <cmath>
#include <cstdint>

namespace nibble::quant {

struct GroupParams {
  float scale = 1;
  float zero = 0;
};

GroupParams fit_group(const float* w, int64_t n, int bits, bool symmetric);
// The clipping search of the GPTQ reference's `mse` option (§4.1): shrink
// the range by 1%, 2%, ... down to 20% of it and keep the grid with the
// smallest Σ|ŵ − w|^2.4 over the group.
GroupParams fit_group_clipped(const float* w, int64_t n, int bits, bool symmetric);
// The general clipping search: shrink the range in steps of 1/grid down to
// (1 - max_shrink) of it, keep the grid with the smallest sum of abs(error)^norm.
GroupParams fit_group_search(const float* w, int64_t n, int bits, bool symmetric, double norm,
                             int grid, double max_shrink);

GroupParams fit_group_range(float xmin, float xmax, int bits, bool symmetric);

inline int quantize_value(float w, const GroupParams& p, int maxq) {
  const float q = std::nearbyint(w / p.scale) + p.zero;
  return q < 0 ? 0 : q > float(maxq) ? maxq : int(q);
}

}  // namespace nibble::quant
