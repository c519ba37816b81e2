// Runtime layers for a model opened from a GGUF file (io/gguf_model.h):
// each projection becomes a quant::GgufLinear when its block type has a
// kernel (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K), a dense layer over the mapped
// weights for F32/F16/BF16, and otherwise (Q4_1, Q5_0, Q5_1, Q2_K, Q3_K,
// IQ4_NL) a dense f32 layer dequantized once at load.
#pragma once

#include "io/model_source.h"
#include "model/llama.h"

namespace nibble::formats {

// `source.format` must be "gguf".
model::LinearLoader gguf_linear_loader(const io::ModelSource& source);

// The token embedding is looked up row by row as floats: a block-quantized
// token_embd.weight is dequantized once into an f32 copy in the weight
// store, under its Hugging Face name. No-op for float embeddings.
void dequantize_gguf_embedding(io::ModelSource& source);

}  // namespace nibble::formats
