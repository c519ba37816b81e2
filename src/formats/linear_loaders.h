// Picks how each linear of a checkpoint becomes a runtime Linear, from the
// checkpoint's quantization_config: dense weights, or GPTQ tensors
// (qweight/qzeros/scales/g_idx) or AutoAWQ GEMM/GEMV tensors
// (qweight/qzeros/scales; quant_method "awq", or an older checkpoint's
// quant_config.json) decoded to the canonical grid and repacked for the
// integer kernels.
#pragma once

#include "io/model_source.h"
#include "model/llama.h"

namespace nibble::formats {

model::LinearLoader linear_loader_for(const io::ModelSource& source);

}  // namespace nibble::formats
