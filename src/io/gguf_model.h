// Llama-family models in GGUF files, as llama.cpp names them: the
// architecture config from `<arch>.*` metadata and the mapping between
// GGUF tensor names (blk.3.attn_q.weight) and the canonical Hugging Face
// names (model.layers.3.self_attn.q_proj.weight) the rest of nibble uses.
//
// Rotary order: llama.cpp's converter permutes the Q/K rows of "llama"
// models so that each head rotates adjacent pairs (2i, 2i+1); nibble runs
// such files as they are, with rope_interleaved set. "qwen2" files keep
// the Hugging Face order (rotate i with i + head_dim/2).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "io/gguf.h"
#include "io/model_config.h"
#include "io/model_source.h"

namespace nibble::io {

// Config from general.architecture ("llama" or "qwen2") and its keys;
// throws Error naming the file and the missing or unsupported key.
ModelConfig read_gguf_config(const GgufFile& file);

// "model.layers.3.self_attn.q_proj" -> "blk.3.attn_q" (also whole tensor
// names: a ".weight"/".bias" suffix is kept); nullopt for names with no
// GGUF counterpart.
std::optional<std::string> gguf_name_for(const std::string& hf_name);

// The model in a .gguf file: config, the F32/F16/BF16 tensors under their
// Hugging Face names as views into the mapping, and the file itself for
// the block-quantized tensors. The chat template (tokenizer.chat_template)
// is exposed as tokenizer_config["chat_template"].
ModelSource open_gguf_model(const std::string& path);

}  // namespace nibble::io
