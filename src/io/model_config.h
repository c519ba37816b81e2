// The architecture description of a Llama-family model, read from an HF
// config.json (model_type llama, mistral, qwen2) or filled in by the
// llama2.c and GGUF loaders.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace nibble::io {

struct RopeScaling {
  std::string type;  // "" (none), "linear" or "llama3"
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int original_max_position_embeddings = 8192;
  // GGUF files of Llama 3.1 store the scaled frequencies as a rope_freqs
  // tensor instead: each inverse frequency is divided by its factor.
  std::vector<float> freq_factors;

  // "llama3": what an inverse rotary frequency is divided by. Wavelengths
  // longer than original_max_position_embeddings / low_freq_factor are
  // slowed by `factor`, those shorter than .../high_freq_factor are kept,
  // and the band between blends the two smoothly.
  double llama3_divisor(double inv_freq) const;
};

struct ModelConfig {
  std::string model_type = "llama";
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int vocab_size = 0;
  int max_position_embeddings = 2048;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // q/k/v biases (Qwen2)
  // HF checkpoints rotate dimension i with i + head_dim/2; llama2.c and GGUF
  // files rotate adjacent pairs (2i, 2i+1).
  bool rope_interleaved = false;
  // Attention as llama.cpp computes it on the CPU: its default F16 KV cache
  // (keys and values rounded to fp16) and, for batches under
  // kernels::kLlamaCppTiledRows tokens, fp16 queries and its flash-attention
  // order (kernels::attention_softmax_mix_f16). Set for GGUF files, so that
  // a model continues a prompt as llama.cpp and Ollama do, near ties included.
  bool llama_cpp_attention = false;
  int bos_token_id = -1;
  std::vector<int> eos_token_ids;
  nlohmann::json raw;  // config.json as read, for writers that copy it

  int q_dim() const { return num_heads * head_dim; }
  int kv_dim() const { return num_kv_heads * head_dim; }
  // The unscaled inverse frequency of rotary pair i: rope_theta^(-2i/head_dim).
  double rope_inv_freq(int i) const;
  int64_t parameter_count() const;
};

// Parses and validates config.json text; `source` names the file in errors.
ModelConfig parse_hf_config(const std::string& text, const std::string& source);
ModelConfig read_hf_config(const std::string& path);

// Checks internal consistency (divisibility, positive sizes); throws Error.
void validate_config(const ModelConfig& c, const std::string& source);

}  // namespace nibble::io
