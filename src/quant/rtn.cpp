#include "quant/rtn.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/parallel.h"

namespace nibble::quant {

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
