// llama2.c checkpoints (Karpathy's run.c format): a header of seven int32
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
// a negative vocab_size means the classifier is stored separately) followed
// by f32 weights in a fixed order. Loaded into a WeightStore under the HF
// names, with rope_interleaved set: llama2.c rotates adjacent pairs.
#pragma once

#include <string>

#include "io/model_config.h"
#include "io/weight_store.h"

namespace nibble::io {

struct Llama2cModel {
  ModelConfig config;
  WeightStore weights;
};

Llama2cModel read_llama2c(const std::string& path);

}  // namespace nibble::io
