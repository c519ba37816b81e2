#include "io/llama2c.h"

#include <cstring>

#include "core/error.h"
#include "core/mapped_file.h"

namespace nibble::io {

Llama2cModel read_llama2c(const std::string& path) {
  MappedFile file(path);
  NIBBLE_CHECK(file.size() >= 28, path, ": too short for a llama2.c header (", file.size(),
               " bytes)");
  int32_t h[7];
  std::memcpy(h, file.data(), sizeof h);
  for (int32_t v : h)
    NIBBLE_CHECK(v != 0 && v > -(1 << 24) && v < (1 << 24), path,
                 ": header value ", v, " out of range (not a llama2.c checkpoint?)");
  const bool shared_classifier = h[5] > 0;
  Llama2cModel m;
  ModelConfig& c = m.config;
  c.model_type = "llama";
  c.hidden_size = h[0];
  c.intermediate_size = h[1];
  c.num_layers = h[2];
  c.num_heads = h[3];
  c.num_kv_heads = h[4];
  c.vocab_size = shared_classifier ? h[5] : -h[5];
  c.max_position_embeddings = h[6];
  c.rope_interleaved = true;
  c.tie_word_embeddings = shared_classifier;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  NIBBLE_CHECK(c.num_heads > 0 && c.hidden_size % c.num_heads == 0, path, ": dim ", c.hidden_size,
               " is not a multiple of n_heads ", c.num_heads);
  c.head_dim = c.hidden_size / c.num_heads;
  validate_config(c, path);

  const int64_t dim = c.hidden_size, hidden = c.intermediate_size, L = c.num_layers;
  const int64_t kv = c.kv_dim(), vocab = c.vocab_size, seq = c.max_position_embeddings;
  const int64_t head = c.head_dim;
  int64_t needed = vocab * dim + L * (2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * dim * hidden) +
                   dim + seq * head;  // + freq_cis_real/imag (seq x head/2 each)
  if (!shared_classifier) needed += vocab * dim;
  const int64_t available = int64_t(file.size() - 28) / 4;
  NIBBLE_CHECK(needed <= available, path, ": truncated: the header needs ", needed * 4 + 28,
               " bytes, the file has ", file.size());

  const float* p = reinterpret_cast<const float*>(file.data() + 28);
  auto take = [&](const std::string& name, std::vector<int64_t> shape) {
    const size_t bytes = size_t(shape_numel(shape)) * 4;
    m.weights.add_owned(name, DType::F32, shape,
                        std::vector<uint8_t>(reinterpret_cast<const uint8_t*>(p),
                                             reinterpret_cast<const uint8_t*>(p) + bytes));
    p += bytes / 4;
  };
  // Per-layer tensors are stored grouped by kind across layers.
  auto take_layers = [&](const std::string& suffix, std::vector<int64_t> shape) {
    for (int64_t l = 0; l < L; ++l) take("model.layers." + std::to_string(l) + "." + suffix, shape);
  };
  take("model.embed_tokens.weight", {vocab, dim});
  take_layers("input_layernorm.weight", {dim});
  take_layers("self_attn.q_proj.weight", {dim, dim});
  take_layers("self_attn.k_proj.weight", {kv, dim});
  take_layers("self_attn.v_proj.weight", {kv, dim});
  take_layers("self_attn.o_proj.weight", {dim, dim});
  take_layers("post_attention_layernorm.weight", {dim});
  take_layers("mlp.gate_proj.weight", {hidden, dim});
  take_layers("mlp.down_proj.weight", {dim, hidden});
  take_layers("mlp.up_proj.weight", {hidden, dim});
  take("model.norm.weight", {dim});
  p += seq * head;  // precomputed RoPE tables, recomputed by nibble
  if (!shared_classifier) take("lm_head.weight", {vocab, dim});
  return m;
}

}  // namespace nibble::io
