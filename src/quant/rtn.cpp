#include "quant/rtn.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/parallel.h"

namespace nibble::quant {

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
  double best_err = -1;
  const int steps = std::max(1, int(max_shrink * grid));
  for (int i = 0; i < steps; ++i) {
    const float p = 1.0f - float(i) / float(grid);
    const GroupParams g = fit_group_range(p * xmin, p * xmax, bits, symmetric);
    double err = 0;
    for (int64_t j = 0; j < n; ++j) {
      const float d = g.scale * (float(quantize_value(w[j], g, maxq)) - g.zero) - w[j];
      err += norm == 2.0 ? double(d) * double(d) : std::pow(std::abs(double(d)), norm);
    }
    if (best_err < 0 || err < best_err) best_err = err, best = g;
  }
  return best;
}

GptqOutput rtn_quantize(const float* W, int64_t rows, int64_t cols, const RtnOptions& o) {
  NIBBLE_CHECK(o.bits >= 2 && o.bits <= 8, "bits must be 2..8, got ", o.bits);
  NIBBLE_CHECK(rows >= 0 && cols >= 1, "RTN: shape ", rows, " x ", cols, " is empty");
  const int64_t g = (o.group_size <= 0 || o.group_size >= cols) ? cols : o.group_size;
  const int maxq = (1 << o.bits) - 1;
  GptqOutput out;
  out.rows = rows;
  out.cols = cols;
  out.groups = int((cols + g - 1) / g);
  out.codes.resize(size_t(rows * cols));
  out.scales.resize(size_t(rows * out.groups));
  out.zeros.resize(size_t(rows * out.groups));
  out.g_idx.resize(size_t(cols));
  for (int64_t c = 0; c < cols; ++c) out.g_idx[c] = int32_t(c / g);
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int t = 0; t < out.groups; ++t) {
        const float* w = W + r * cols + t * g;
        const int64_t n = std::min(g, cols - t * g);
        const GroupParams p =
            o.clip_search ? fit_group_search(w, n, o.bits, o.symmetric, o.clip_norm, o.clip_grid,
                                             o.clip_max_shrink)
                          : fit_group(w, n, o.bits, o.symmetric);
        out.scales[r * out.groups + t] = p.scale;
        out.zeros[r * out.groups + t] = p.zero;
        for (int64_t j = 0; j < n; ++j) out.codes[r * cols + t * g + j] = uint8_t(quantize_value(w[j], p, maxq));
      }
  });
  return out;
}

QuantTensor rtn_quantize_tensor(const float* W, int64_t rows, int64_t cols, const RtnOptions& o) {
  NIBBLE_CHECK(o.bits == 2 || o.bits == 3 || o.bits == 4 || o.bits == 8,
               "RTN: bits must be 2, 3, 4 or 8 for a quantized tensor, got ", o.bits);
  return to_quant_tensor(rtn_quantize(W, rows, cols, o), o.bits, o.group_size, o.symmetric);
}

}  // namespace nibble::quant
