#include "model/llama.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/half.h"
#include "core/parallel.h"
#include "kernels/attention.h"

namespace nibble::model {

namespace {

const TensorView& expect_tensor(const io::WeightStore& store, const std::string& name,
                                std::vector<int64_t> shape) {
  const TensorView& t = store.get(name);
  const std::string where = store.origin(name).empty() ? name : store.origin(name) + ": " + name;
  NIBBLE_CHECK(t.dtype == DType::F32 || t.dtype == DType::F16 || t.dtype == DType::BF16, where,
               ": dtype ", dtype_name(t.dtype), " is not a float type");
  TensorView expected;
  expected.shape = shape;
  NIBBLE_CHECK(t.shape == shape, where, ": shape ", t.shape_string(), " does not match the config (",
               expected.shape_string(), ")");
  return t;
}

std::vector<float> load_vector(const io::WeightStore& store, const std::string& name, int64_t n) {
  const TensorView& t = expect_tensor(store, name, {n});
  std::vector<float> out(n);
  convert_to_f32(t.dtype, t.data, out.data(), out.size());
  return out;
}

template <class T>
void grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
}

}  // namespace

std::unique_ptr<Linear> load_dense_linear(const io::WeightStore& store, const std::string& prefix,
                                          int64_t in, int64_t out) {
  return std::make_unique<DenseLinear>(expect_tensor(store, prefix + ".weight", {out, in}));
}

LlamaModel::LlamaModel(io::ModelConfig config, std::shared_ptr<const io::WeightStore> weights,
                       const LinearLoader& loader)
    : config_(std::move(config)), weights_(std::move(weights)), rope_(config_) {
  const io::WeightStore& w = *weights_;
  const int64_t h = config_.hidden_size, f = config_.intermediate_size;
  const int64_t qd = config_.q_dim(), kvd = config_.kv_dim();
  embedding_ = expect_tensor(w, "model.embed_tokens.weight", {config_.vocab_size, h});
  for (int i = 0; i < config_.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    Layer layer;
    layer.attn_norm = load_vector(w, p + "input_layernorm.weight", h);
    layer.mlp_norm = load_vector(w, p + "post_attention_layernorm.weight", h);
    layer.q = loader(w, p + "self_attn.q_proj", h, qd);
    layer.k = loader(w, p + "self_attn.k_proj", h, kvd);
    layer.v = loader(w, p + "self_attn.v_proj", h, kvd);
    layer.o = loader(w, p + "self_attn.o_proj", qd, h);
    layer.gate = loader(w, p + "mlp.gate_proj", h, f);
    layer.up = loader(w, p + "mlp.up_proj", h, f);
    layer.down = loader(w, p + "mlp.down_proj", f, h);
    if (config_.attention_bias) {
      layer.q->set_bias(load_vector(w, p + "self_attn.q_proj.bias", qd));
      layer.k->set_bias(load_vector(w, p + "self_attn.k_proj.bias", kvd));
      layer.v->set_bias(load_vector(w, p + "self_attn.v_proj.bias", kvd));
    }
    layers_.push_back(std::move(layer));
  }
  final_norm_ = load_vector(w, "model.norm.weight", h);
  if (w.has("lm_head.weight") || w.has("lm_head.qweight") || !config_.tie_word_embeddings)
    lm_head_ = loader(w, "lm_head", h, config_.vocab_size);
  else
    lm_head_ = loader(w, "model.embed_tokens", h, config_.vocab_size);
}

void LlamaModel::embed(const std::vector<BatchToken>& batch, float* x) const {
  const int64_t h = config_.hidden_size;
  const size_t row_bytes = size_t(h) * dtype_size(embedding_.dtype);
  for (size_t t = 0; t < batch.size(); ++t) {
    const auto* row = static_cast<const uint8_t*>(embedding_.data) + batch[t].token * row_bytes;
    convert_to_f32(embedding_.dtype, row, x + t * h, size_t(h));
  }
}

void LlamaModel::forward(const std::vector<BatchToken>& batch, KVCache& cache, float* logits) {
  const int64_t n = int64_t(batch.size());
  if (n == 0) return;
  const int64_t h = config_.hidden_size;
  for (const BatchToken& b : batch) {
    NIBBLE_CHECK(b.token >= 0 && b.token < config_.vocab_size, "token id ", b.token,
                 " is outside the vocabulary of ", config_.vocab_size);
    NIBBLE_CHECK(b.pos >= 0 && b.pos < cache.context(), "position ", b.pos,
                 " is beyond the context of ", cache.context(), " tokens");
    NIBBLE_CHECK(b.slot >= 0 && b.slot < cache.slots(), "KV-cache slot ", b.slot, " out of range");
  }
  grow(s_.x, n * h);
  grow(s_.xn, n * h);
  grow(s_.proj, n * h);
  embed(batch, s_.x.data());

  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    for (int64_t t = 0; t < n; ++t)
      rmsnorm(&s_.x[t * h], layer.attn_norm.data(), h, config_.rms_norm_eps, &s_.xn[t * h]);
    attention(layer, int(l), batch, cache);
    for (int64_t i = 0; i < n * h; ++i) s_.x[i] += s_.proj[i];
    for (int64_t t = 0; t < n; ++t)
      rmsnorm(&s_.x[t * h], layer.mlp_norm.data(), h, config_.rms_norm_eps, &s_.xn[t * h]);
    mlp(layer, n);
    for (int64_t i = 0; i < n * h; ++i) s_.x[i] += s_.proj[i];
  }

  // Only the tokens whose logits are wanted go through the final norm and lm_head.
  int64_t m = 0;
  for (int64_t t = 0; t < n; ++t)
    if (batch[t].logits)
      rmsnorm(&s_.x[t * h], final_norm_.data(), h, config_.rms_norm_eps, &s_.xn[m++ * h]);
  if (m > 0) lm_head_->forward(s_.xn.data(), m, logits);
}

void LlamaModel::attention(const Layer& layer, int l, const std::vector<BatchToken>& batch,
                           KVCache& cache) {
  const int64_t n = int64_t(batch.size());
  const int hd = config_.head_dim, heads = config_.num_heads, kv_heads = config_.num_kv_heads;
  const int64_t qd = config_.q_dim(), kvd = config_.kv_dim();
  grow(s_.q, n * qd);
  grow(s_.k, n * kvd);
  grow(s_.v, n * kvd);
  grow(s_.att, n * qd);
  layer.q->forward(s_.xn.data(), n, s_.q.data());
  layer.k->forward(s_.xn.data(), n, s_.k.data());
  layer.v->forward(s_.xn.data(), n, s_.v.data());
  for (int64_t t = 0; t < n; ++t) {
    rope_.apply(&s_.q[t * qd], heads, batch[t].pos);
    rope_.apply(&s_.k[t * kvd], kv_heads, batch[t].pos);
    cache.store(l, batch[t].slot, batch[t].pos, &s_.k[t * kvd], &s_.v[t * kvd]);
  }

  // Each (token, KV head) pair: its `group` query heads attend together to
  // positions 0..pos of the token's slot. Later tokens, which attend to more
  // positions, go out first, so the threads' last chunks are the short ones.
  const int group = heads / kv_heads;
  const float scale = 1.0f / std::sqrt(float(hd));
  const int64_t pairs = n * kv_heads;
  const bool llama_cpp_order = config_.llama_cpp_attention && n < kernels::kLlamaCppTiledRows;
  parallel_for_balanced(pairs, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> scores, half_q;  // keep their capacity between calls
    for (int64_t i = begin; i < end; ++i) {
      const int64_t pair = pairs - 1 - i;
      const int64_t t = pair / kv_heads;
      const int kv_head = int(pair % kv_heads);
      const BatchToken& b = batch[t];
      const int64_t positions = b.pos + 1;
      const int64_t first = t * qd + int64_t(kv_head) * group * hd;  // of the group's query heads
      scores.resize(size_t(group * positions));
      const float* values = cache.values(l, b.slot, kv_head);
      const float* q = &s_.q[first];
      if (llama_cpp_order) {  // llama.cpp's flash attention takes the queries in fp16
        half_q.resize(size_t(group * hd));
        for (int d = 0; d < group * hd; ++d) half_q[size_t(d)] = round_to_f16(q[d]);
        q = half_q.data();
      }
      kernels::attention_scores(q, group, cache.key_tiles(l, b.slot, kv_head), positions, hd, scale,
                                scores.data());
      if (llama_cpp_order) {
        kernels::attention_softmax_mix_f16(scores.data(), group, values, positions, hd, &s_.att[first]);
      } else {
        for (int g = 0; g < group; ++g) softmax(&scores[g * positions], positions);
        kernels::attention_mix(scores.data(), group, values, positions, hd, &s_.att[first]);
      }
    }
  });
  layer.o->forward(s_.att.data(), n, s_.proj.data());
}

void LlamaModel::mlp(const Layer& layer, int64_t n) {
  const int64_t f = config_.intermediate_size;
  grow(s_.gate, n * f);
  grow(s_.up, n * f);
  layer.gate->forward(s_.xn.data(), n, s_.gate.data());
  layer.up->forward(s_.xn.data(), n, s_.up.data());
  silu_mul(s_.gate.data(), s_.up.data(), n * f);
  layer.down->forward(s_.up.data(), n, s_.proj.data());
}

size_t LlamaModel::weight_bytes() const {
  size_t bytes = lm_head_->weight_bytes();
  for (const Layer& l : layers_)
    for (const auto* lin : {&l.q, &l.k, &l.v, &l.o, &l.gate, &l.up, &l.down})
      bytes += (*lin)->weight_bytes();
  return bytes;
}

std::string LlamaModel::weight_formats() const {
  std::string out = "layers: " + layers_[0].q->format() + ", lm_head: " + lm_head_->format();
  return out;
}

}  // namespace nibble::model
