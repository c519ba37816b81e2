// The file types `llama-quantize` offers (Q4_K_M, Q8_0, ...) and its rule
// for which ggml type each tensor of a Llama model gets under them
// (llama_tensor_get_type in llama.cpp's llama-quant.cpp): the _S/_M/_L
// mixtures spend more bits on attn_v, ffn_down and attn_output; output
// (and a tied token_embd) is Q6_K; a tensor whose rows do not split into
// 256-wide super-blocks falls back to a 32-wide type (Q4_K -> Q5_0,
// Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K/Q3_K -> IQ4_NL) or F16.
#pragma once

#include <string>

#include "io/gguf.h"
#include "io/model_config.h"

namespace nibble::formats {

struct GgufFileType {
  const char* name;      // "Q4_K_M"
  int llama_ftype;       // general.file_type (llama_ftype)
  io::GgmlType base;     // the type of tensors no rule promotes
};

// Throws Error listing the supported names.
const GgufFileType& gguf_file_type(const std::string& name);
std::string gguf_file_type_names();  // "F16, Q8_0, ..."

// The ggml type llama-quantize gives `gguf_name` ("blk.3.ffn_down.weight",
// row length `row_length`) under `ftype`. 1-D tensors (norms) stay F32;
// an F16/BF16 file keeps every matrix in that type.
io::GgmlType gguf_tensor_type(const GgufFileType& ftype, const std::string& gguf_name,
                              int64_t row_length, int n_dims, const io::ModelConfig& config,
                              bool has_imatrix);

}  // namespace nibble::formats
