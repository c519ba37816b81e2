// Finishing a Hugging Face model directory that nibble writes (quantized or
// merged checkpoints): the tensors (model.safetensors, or shards + index),
// the source's tokenizer and generation files, and config.json last, so a
// directory with a config.json is complete.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "io/model_source.h"
#include "io/safetensors.h"

namespace nibble::io {

// Throws unless `out` can receive a new checkpoint (no config.json in it).
void check_new_hf_directory(const std::string& out);

void write_hf_directory(const ModelSource& source, const SafetensorsWriter& tensors,
                        const nlohmann::json& config, const std::string& out,
                        size_t max_shard_bytes = size_t(4) << 30);

}  // namespace nibble::io
