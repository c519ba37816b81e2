// bitsandbytes in Hugging Face checkpoints (specs/bitsandbytes.md §2, §5):
// reading the tensors transformers' save_pretrained writes for 4-bit
// (weight + weight.absmax / quant_map / nested_* / quant_state.bitsandbytes__*)
// and 8-bit (weight int8 + SCB + weight_format) linears into runtime
// Linears; quantizing BF16 weights while loading (--load-in-4bit/8bit); and
// writing such checkpoints.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/model_source.h"
#include "model/llama.h"
#include "quant/bnb_codes.h"

namespace nibble::formats {

struct BnbOptions {
  bool four_bit = true;  // false: LLM.int8
  quant::FourBitType type = quant::FourBitType::nf4;
  bool double_quant = false;
  float int8_threshold = 6.0f;
};

// Whether a tensor is a linear weight bitsandbytes converts: a 2-D
// "model.layers.*.weight" of a projection (lm_head, embeddings and norms
// stay in their dtype, as transformers leaves them).
bool is_bnb_linear_weight(const std::string& name, const TensorView& view);

// Quantizes each decoder linear of a dense checkpoint as it is loaded.
model::LinearLoader bnb_quantizing_loader(const BnbOptions& options);
// Loads a checkpoint whose config says quant_method "bitsandbytes".
model::LinearLoader bnb_checkpoint_loader(const io::ModelSource& source);

// The serialized weights of one linear ("model.layers.0.mlp.up_proj"),
// validated against the spec; throws Error naming the tensor.
quant::FourBitWeight read_bnb_4bit(const io::WeightStore& store, const std::string& prefix);
quant::Int8Weight read_bnb_int8(const io::WeightStore& store, const std::string& prefix);

nlohmann::json bnb_quantization_config(const BnbOptions& options);

// f32 values of a source tensor by name (e.g. merged with a LoRA adapter).
using WeightReader = std::function<std::vector<float>(const std::string& name)>;

struct BnbWriteSummary {
  size_t bytes = 0;                // all tensors written
  double linear_bits_per_weight = 0;  // over the quantized linears
};

// Writes OUT (model.safetensors or shards, tokenizer files, config.json
// last, so the directory looks complete only when it is). One linear is
// quantized at a time. Refuses an OUT that already holds config.json.
BnbWriteSummary write_bnb_checkpoint(const io::ModelSource& source, const WeightReader& read,
                                     const BnbOptions& options, const std::string& out);

}  // namespace nibble::formats
