// Everything nibble needs to run a model, found from one path the user gives:
// a Hugging Face directory (config.json + safetensors + tokenizer files) or
// a llama2.c .bin checkpoint, or a GGUF file (io/gguf_model.h).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "io/gguf.h"
#include "io/model_config.h"
#include "io/weight_store.h"

namespace nibble::io {

struct ModelSource {
  std::string path;            // what the user named
  std::string directory;       // where tokenizer files are looked for
  std::string format;          // "hf", "llama2c" or "gguf"
  ModelConfig config;
  std::shared_ptr<WeightStore> weights;
  nlohmann::json tokenizer_config;   // tokenizer_config.json, or null
  nlohmann::json generation_config;  // generation_config.json, or null
  // format "gguf": the mapped file; its quantized tensors are not in
  // `weights` (formats::linear_loader_for reads them from here).
  std::shared_ptr<const GgufFile> gguf;
};

ModelSource open_model(const std::string& path);

// Reads an optional JSON file: null when absent, Error when present but invalid.
nlohmann::json read_optional_json(const std::string& path);

}  // namespace nibble::io
