#include "quant/group_params.h"

#include <algorithm>

#include "core/error.h"
#include "core/half.h"
#include "kernels/grid_error.h"

namespace nibble::quant {

GroupParams fit_group_range(float xmin, float xmax, int bits, bool symmetric) {
  const int maxq = (1 << bits) - 1;
  xmin = std::min(xmin, 0.0f);
  xmax = std::max(xmax, 0.0f);
  if (symmetric) {
    xmax = std::max(std::abs(xmin), xmax);
    if (xmin < 0) xmin = -xmax;
  }
  if (xmin == 0 && xmax == 0) xmin = -1, xmax = 1;
  GroupParams p;
  // fp16 scale, kept away from zero (the smallest fp16 subnormal).
  p.scale = std::max(f16_to_f32(f32_to_f16((xmax - xmin) / float(maxq))), 5.9604645e-08f);
  p.zero = symmetric ? float((maxq + 1) / 2)
                     : std::clamp(std::nearbyint(-xmin / p.scale), 0.0f, float(maxq));
  return p;
}

GroupParams fit_group(const float* w, int64_t n, int bits, bool symmetric) {
  float xmin = 0, xmax = 0;
  for (int64_t i = 0; i < n; ++i) {
    xmin = std::min(xmin, w[i]);
    xmax = std::max(xmax, w[i]);
  }
  return fit_group_range(xmin, xmax, bits, symmetric);
}

GroupParams fit_group_search(const float* w, int64_t n, int bits, bool symmetric, double norm,
                             int grid, double max_shrink) {
  NIBBLE_CHECK(norm > 0 && grid >= 1 && max_shrink >= 0 && max_shrink < 1,
               "clipping search: norm ", norm, ", grid ", grid, ", max_shrink ", max_shrink,
               " (need norm > 0, grid >= 1, 0 <= max_shrink < 1)");
  float xmin = 0, xmax = 0;
  for (int64_t i = 0; i < n; ++i) {
    xmin = std::min(xmin, w[i]);
    xmax = std::max(xmax, w[i]);
  }
  const int maxq = (1 << bits) - 1;
  GroupParams best = fit_group_range(xmin, xmax, bits, symmetric);
  float best_err = -1;
  const int steps = std::max(1, int(max_shrink * grid));
  for (int i = 0; i < steps; ++i) {
    const float p = 1.0f - float(i) / float(grid);
    const GroupParams g = fit_group_range(p * xmin, p * xmax, bits, symmetric);
    const float err = kernels::grid_error(w, n, g.scale, g.zero, float(maxq), float(norm));
    if (best_err < 0 || err < best_err) best_err = err, best = g;
  }
  return best;
}

GroupParams fit_group_clipped(const float* w, int64_t n, int bits, bool symmetric) {
  return fit_group_search(w, n, bits, symmetric, 2.4, 100, 0.8);
}

}  // namespace nibble::quant
