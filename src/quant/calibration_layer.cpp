#include "quant/calibration_layer.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace nibble::quant {

const char* const kLayerLinears[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                      "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                      "mlp.down_proj"};

namespace {
std::vector<float> to_f32(const TensorView& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  convert_to_f32(t.dtype, t.data, v.data(), v.size());
  return v;
}
}  // namespace

CalibrationLayer::CalibrationLayer(const io::ModelConfig& c, const io::WeightStore& store, int layer,
                                   const WeightAdjuster& adjust)
    : config_(c), rope_(c) {
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  attn_norm_ = to_f32(store.get(p + "input_layernorm.weight"));
  mlp_norm_ = to_f32(store.get(p + "post_attention_layernorm.weight"));
  for (const char* name : kLayerLinears) {
    const TensorView& w = store.get(p + name + ".weight");
    NIBBLE_CHECK(w.shape.size() == 2 && w.dim(0) == out_features(name) && w.dim(1) == in_features(name),
                 p, name, ".weight: shape ", w.shape_string(), " does not match the config");
    weights_[name] = to_f32(w);
    if (adjust) adjust(p + name + ".weight", weights_[name].data(), w.dim(0), w.dim(1));
    store.release(p + name + ".weight");  // the f32 copy is all the pipeline uses
  }
  if (c.attention_bias)
    for (const char* name : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"})
      biases_[name] = to_f32(store.get(p + name + ".bias"));
}

const std::vector<float>* CalibrationLayer::find_parameter(const std::string& name) const {
  if (name == "input_layernorm.weight") return &attn_norm_;
  if (name == "post_attention_layernorm.weight") return &mlp_norm_;
  const std::string suffix = ".bias";
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    auto b = biases_.find(name.substr(0, name.size() - suffix.size()));
    if (b != biases_.end()) return &b->second;
  }
  return nullptr;
}

std::vector<float>& CalibrationLayer::parameter(const std::string& name) {
  const std::vector<float>* p = find_parameter(name);
  NIBBLE_CHECK(p, "decoder layer has no parameter '", name, "'");
  return *const_cast<std::vector<float>*>(p);
}

int64_t CalibrationLayer::out_features(const std::string& n) const {
  if (n == "self_attn.q_proj") return config_.q_dim();
  if (n == "self_attn.k_proj" || n == "self_attn.v_proj") return config_.kv_dim();
  if (n == "mlp.gate_proj" || n == "mlp.up_proj") return config_.intermediate_size;
  return config_.hidden_size;
}

int64_t CalibrationLayer::in_features(const std::string& n) const {
  if (n == "self_attn.o_proj") return config_.q_dim();
  if (n == "mlp.down_proj") return config_.intermediate_size;
  return config_.hidden_size;
}

std::vector<float>& CalibrationLayer::weight(const std::string& linear) {
  std::vector<float>& W = weights_.at(linear);
  const std::lock_guard<std::mutex> lock(packing_);
  packed_.erase(linear);
  return W;
}

const kernels::Bf16Weights& CalibrationLayer::packed(const std::string& linear) const {
  const std::lock_guard<std::mutex> lock(packing_);
  auto it = packed_.find(linear);
  if (it == packed_.end())
    it = packed_.emplace(linear, kernels::pack_bf16_weights(weights_.at(linear).data(), out_features(linear),
                                                           in_features(linear)))
             .first;
  return it->second;
}

void CalibrationLayer::linear(const std::string& name, const float* X, int64_t T, float* Y,
                              bool accumulate) const {
  const int64_t out = out_features(name);
  kernels::bf16_gemm(X, T, packed(name), Y, accumulate);
  auto b = biases_.find(name);
  if (b != biases_.end())
    for (int64_t t = 0; t < T; ++t)
      for (int64_t r = 0; r < out; ++r) Y[t * out + r] += b->second[r];
}

void CalibrationLayer::attn_input(const float* x, int64_t T, float* xn) const {
  const int64_t h = config_.hidden_size;
  for (int64_t t = 0; t < T; ++t)
    model::rmsnorm(x + t * h, attn_norm_.data(), h, config_.rms_norm_eps, xn + t * h);
}

void CalibrationLayer::mlp_input(const float* x, int64_t T, float* xn) const {
  const int64_t h = config_.hidden_size;
  for (int64_t t = 0; t < T; ++t)
    model::rmsnorm(x + t * h, mlp_norm_.data(), h, config_.rms_norm_eps, xn + t * h);
}

void CalibrationLayer::attention(const float* xn, int64_t T, float* att, int64_t sequences) const {
  NIBBLE_CHECK(sequences > 0 && T % sequences == 0, "attention: ", T, " tokens are not ", sequences,
               " sequences of equal length");
  const int hd = config_.head_dim, heads = config_.num_heads, kv_heads = config_.num_kv_heads;
  const int64_t qd = config_.q_dim(), kvd = config_.kv_dim(), length = T / sequences;
  std::vector<float> q(size_t(T * qd)), k(size_t(T * kvd)), v(size_t(T * kvd));
  linear("self_attn.q_proj", xn, T, q.data(), false);
  linear("self_attn.k_proj", xn, T, k.data(), false);
  linear("self_attn.v_proj", xn, T, v.data(), false);
  for (int64_t t = 0; t < T; ++t) {
    rope_.apply(&q[t * qd], heads, int(t % length));
    rope_.apply(&k[t * kvd], kv_heads, int(t % length));
  }
  // Per sequence and head: scores = Q Kᵀ / sqrt(d) with a causal mask,
  // softmax by row, out = P V. Queries go in blocks of kQueryBlock rows,
  // each against only the keys it can see, which skips most of the masked
  // half.
  constexpr int64_t kQueryBlock = 128;
  const int group = heads / kv_heads;
  const float scale = 1.0f / std::sqrt(float(hd));
  std::vector<float> scores(size_t(std::min(length, kQueryBlock) * length));
  for (int64_t first = 0; first < T; first += length)
    for (int head = 0; head < heads; ++head) {
      const float* kh = &k[size_t(first * kvd + (head / group) * hd)];
      const float* vh = &v[size_t(first * kvd + (head / group) * hd)];
      for (int64_t t0 = 0; t0 < length; t0 += kQueryBlock) {
        const int64_t rows = std::min(kQueryBlock, length - t0), keys = t0 + rows;
        const float* qh = &q[size_t((first + t0) * qd + head * hd)];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), int(keys), hd, scale, qh, int(qd), kh,
                    int(kvd), 0.0f, scores.data(), int(keys));
        for (int64_t r = 0; r < rows; ++r) {
          float* row = &scores[r * keys];
          model::softmax(row, t0 + r + 1);
          std::fill(row + t0 + r + 1, row + keys, 0.0f);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rows), hd, int(keys), 1.0f, scores.data(),
                    int(keys), vh, int(kvd), 0.0f, att + size_t((first + t0) * qd + head * hd), int(qd));
      }
    }
}

void CalibrationLayer::add_attn_output(const float* att, int64_t T, float* x) const {
  linear("self_attn.o_proj", att, T, x, true);
}

void CalibrationLayer::mlp_hidden(const float* xn, int64_t T, float* act) const {
  const int64_t f = config_.intermediate_size;
  std::vector<float> gate(size_t(T * f));
  linear("mlp.gate_proj", xn, T, gate.data(), false);
  linear("mlp.up_proj", xn, T, act, false);
  model::silu_mul(gate.data(), act, T * f);
}

void CalibrationLayer::add_mlp_output(const float* act, int64_t T, float* x) const {
  linear("mlp.down_proj", act, T, x, true);
}

}  // namespace nibble::quant
