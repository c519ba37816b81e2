// Round-to-nearest: every weight to the nearest point of its group's grid
// (quant/group_params.h), optionally with the clipping search.
#pragma once

#include <cstdint>
#include <vector>

#include "quant/gptq.h"

namespace nibble::quant {

struct RtnOptions {
  int bits = 4;
  int group_size = 128;  // <= 0: per-channel
  bool symmetric = false;
  bool clip_search = false;
};

// W: rows x cols row-major f32. The result uses the same layout as GPTQ's.
GptqOutput rtn_quantize(const float* W, int64_t rows, int64_t cols, const RtnOptions& options);

}  // namespace nibble::quant
