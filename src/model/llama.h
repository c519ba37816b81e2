// The Llama-family decoder (Llama 2/3, Mistral, Qwen2): embeddings, N blocks
// of [RMSNorm, GQA attention with RoPE, residual, RMSNorm, SwiGLU MLP,
// residual], final RMSNorm, lm_head. One forward() serves prefill, decode
// and batches mixing several sequences: each token carries its position and
// KV-cache slot.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "io/weight_store.h"
#include "model/kv_cache.h"
#include "model/linear.h"
#include "model/ops.h"

namespace nibble::model {

// Makes the Linear for one projection ("model.layers.0.self_attn.q_proj")
// from whatever tensors the store holds for it. The default reads
// "<prefix>.weight" as a dense matrix; quantized formats supply their own.
using LinearLoader = std::function<std::unique_ptr<Linear>(
    const io::WeightStore& store, const std::string& prefix, int64_t in, int64_t out)>;
std::unique_ptr<Linear> load_dense_linear(const io::WeightStore& store, const std::string& prefix,
                                          int64_t in, int64_t out);

struct BatchToken {
  int token;
  int pos;   // position within its sequence
  int slot;  // KV-cache slot of its sequence
  bool logits;  // whether the caller wants this token's next-token logits
};

class LlamaModel {
 public:
  LlamaModel(io::ModelConfig config, std::shared_ptr<const io::WeightStore> weights,
             const LinearLoader& loader = load_dense_linear);

  const io::ModelConfig& config() const { return config_; }
  int vocab_size() const { return config_.vocab_size; }

  // Runs the batch; writes vocab_size logits for each token with .logits set,
  // in batch order, to `logits`. Tokens of one slot must have increasing
  // positions and all earlier positions of that slot must be in the cache.
  void forward(const std::vector<BatchToken>& batch, KVCache& cache, float* logits);

  // Bytes of weights the forward pass streams per token (all linears + one
  // embedding row), and a per-linear description for `inspect`/`bench`.
  size_t weight_bytes() const;
  std::string weight_formats() const;

 private:
  struct Layer {
    std::vector<float> attn_norm, mlp_norm;
    std::unique_ptr<Linear> q, k, v, o, gate, up, down;
  };
  struct Scratch {  // grown to the largest batch seen, reused between calls
    std::vector<float> x, xn, q, k, v, att, proj, gate, up, logits_in;
  };

  void embed(const std::vector<BatchToken>& batch, float* x) const;
  void attention(const Layer& layer, int layer_index, const std::vector<BatchToken>& batch,
                 KVCache& cache);
  void mlp(const Layer& layer, int64_t n);

  io::ModelConfig config_;
  std::shared_ptr<const io::WeightStore> weights_;
  TensorView embedding_;
  std::vector<Layer> layers_;
  std::vector<float> final_norm_;
  std::unique_ptr<Linear> lm_head_;
  Rope rope_;
  Scratch s_;
};

}  // namespace nibble::model
