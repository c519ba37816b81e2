// Round-to-nearest: every weight to the nearest point of its group's grid
// (quant/group_params.h: the GPTQ reference's find_params — asymmetric
// scale = (max − min) / maxq over a range clamped to contain 0, zero =
// round(−min / scale); symmetric zero = 2^(bits−1)), optionally with the
// clipping search: shrink the range to p·[min, max] for p = 1, 0.99, ...
// down to 1 − max_shrink (defaults: 100 steps, 80 tried, down to 0.21, the
// reference's `mse` option) and keep the grid with the smallest
// Σ |ŵ − w|^norm over the group. norm 2.4 is the reference's default and
// weighs large errors a little more; norm 2 minimizes the group's squared
// error. p = 1 is always a candidate, so the search never makes that
// measure worse than plain RTN.
//
// cols not divisible by group_size: the last group is partial (see
// quant/quant_tensor.h); group_size <= 0 or >= cols is per-channel.
#pragma once

#include <cstdint>
#include <vector>

#include "quant/gptq.h"
#include "quant/group_params.h"
#include "quant/quant_tensor.h"

namespace nibble::quant {

struct RtnOptions {
  int bits = 4;
  int group_size = 128;  // <= 0: per-channel
  bool symmetric = false;
  bool clip_search = false;
  double clip_norm = 2.4;        // exponent of the error the search minimizes
  int clip_grid = 100;           // steps of 1 / clip_grid of the range
  double clip_max_shrink = 0.8;  // try shrinking by up to this fraction
};


// W: rows x cols row-major f32. The result uses the same layout as GPTQ's.
GptqOutput rtn_quantize(const float* W, int64_t rows, int64_t cols, const RtnOptions& options);

// The same as the canonical tensor (no g_idx).
QuantTensor rtn_quantize_tensor(const float* W, int64_t rows, int64_t cols,
                                const RtnOptions& options);

}  // namespace nibble::quant
