// Writes a Hugging Face Llama, Mistral or Qwen2 checkpoint as a GGUF file
// that llama.cpp loads: general.* and llama.* / qwen2.* metadata and tensor
// names as convert_hf_to_gguf.py writes them, the tokenizer as
// tokenizer.ggml.*, Q/K rows of "llama" files permuted into llama.cpp's
// rotary order (Qwen2 keeps Hugging Face's order and adds the q/k/v bias
// tensors), Llama 3.1 rope scaling as the rope_freqs.weight tensor, and each
// tensor in the type llama-quantize would give it
// (formats/gguf_type_rules.h), quantized with llama.cpp's own block
// quantizers. Tensors are converted one at a time while the file is
// written (temporary name, renamed when complete).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "formats/gguf_type_rules.h"
#include "io/model_source.h"

namespace nibble::formats {

// A tensor quantized elsewhere (GPTQ codes in Q4_0 blocks): its blocks, row
// after row, in the Hugging Face row order (the writer permutes Q/K rows).
struct GgufPrecomputedTensor {
  io::GgmlType type;
  std::vector<uint8_t> blocks;
};

// Changes a 2-D tensor's f32 values (by Hugging Face name, [rows, cols])
// before it is quantized: a LoRA merge.
using GgufWeightAdjuster = std::function<void(const std::string& hf_name, float* W, int64_t rows, int64_t cols)>;

struct GgufExportOptions {
  const GgufFileType* file_type = nullptr;
  // By GGUF tensor name ("blk.0.attn_q.weight"); used instead of quantizing.
  std::map<std::string, GgufPrecomputedTensor> precomputed;
  // Importance of each input column (llama.cpp imatrix) by GGUF tensor
  // name; null or a missing entry quantizes without it.
  std::function<const std::vector<float>*(const std::string& gguf_name)> importance;
  // Applied to every tensor that is quantized here (not to precomputed ones).
  GgufWeightAdjuster adjust_weight;
  // Called after each tensor is written, with its name.
  std::function<void(const std::string& gguf_name)> on_tensor;
};

struct GgufExportSummary {
  uint64_t file_bytes = 0;
  int tensor_count = 0;
  double linear_bits = 0;     // bits of the 2-D weights (block data)
  double linear_weights = 0;  // their element count
  std::map<std::string, int> tensors_per_type;  // "Q6_K" -> 9
};

// The GGUF names of the tensors write_gguf_model writes, in file order.
std::vector<std::string> gguf_export_tensor_names(const io::ModelSource& source);

GgufExportSummary write_gguf_model(const io::ModelSource& source, const std::string& out_path,
                                   const GgufExportOptions& options);

// llama.cpp's rotary order for a "llama" model: within each head of
// `head_dim` rows, row 2i + j takes Hugging Face row j * head_dim/2 + i.
// `rows` holds n_rows rows of `row_bytes` bytes each, permuted in place.
void permute_rotary_rows(uint8_t* rows, int64_t n_rows, size_t row_bytes, int head_dim);

}  // namespace nibble::formats
