// GPTQ-optimized weights stored in llama.cpp's legacy blocks, so llama.cpp
// runs them unchanged: the GPTQ grid is chosen to be exactly the block's
// grid (group 32, fp16 scale), and the codes are copied into the blocks.
//   Q4_0: symmetric 4-bit, zero 8:    y = d (q - 8)        -> d = scale
//   Q4_1: asymmetric 4-bit, zero z:   y = s (q - z) = d q + m with d = s,
//         m = -z s (rounded to fp16, the only step GPTQ did not see)
//   Q8_0: symmetric 8-bit, zero 128:  y = d (q - 128)      -> qs = q - 128
#pragma once

#include "formats/gguf_model_writer.h"
#include "quant/gptq.h"

namespace nibble::formats {

// The GPTQ options whose grid `type` (Q4_0, Q4_1 or Q8_0) can hold; throws
// Error for other types.
quant::GptqOptions gptq_options_for_gguf(io::GgmlType type);

// Encodes a GPTQ result made with gptq_options_for_gguf(type) (no act-order
// g_idx) into rows x (cols / 32) blocks of `type`. Throws Error naming
// `name` if the grid does not fit the block.
GgufPrecomputedTensor encode_gptq_as_gguf(const quant::GptqOutput& q, io::GgmlType type,
                                          const std::string& name);

}  // namespace nibble::formats
