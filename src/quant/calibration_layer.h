// One decoder layer over whole calibration sequences (f32 activations, the
// linears' products in bf16 with f32 sums), split into the
// stages the layer-streaming quantizer needs: each stage produces the input
// of the next group of linears (specs/gptq.md §1.1's true-sequential order),
// so those linears can be quantized before later stages run on them.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "io/model_config.h"
#include "io/weight_store.h"
#include "kernels/bf16_gemm.h"
#include "model/ops.h"

namespace nibble::quant {

// The linears of a Llama layer by their names under "model.layers.N.".
extern const char* const kLayerLinears[7];

// Changes a linear's f32 weights [rows, cols] as they are read, given the
// tensor's full name ("model.layers.3.mlp.up_proj.weight"): quantize
// --adapter merges a LoRA adapter here, one layer at a time.
using WeightAdjuster = std::function<void(const std::string& name, float* W, int64_t rows, int64_t cols)>;

class CalibrationLayer {
 public:
  CalibrationLayer(const io::ModelConfig& config, const io::WeightStore& store, int layer,
                   const WeightAdjuster& adjust = nullptr);

  // f32 weights [out, in] of a linear ("self_attn.q_proj", ...); the
  // quantizer replaces them with their dequantized values. Taking the
  // reference drops the linear's packed bf16 copy, made again at its next
  // product.
  std::vector<float>& weight(const std::string& linear);
  const std::vector<float>& weight(const std::string& linear) const { return weights_.at(linear); }
  // A 1-D parameter by its name under "model.layers.N." — the norm weights
  // ("input_layernorm.weight", "post_attention_layernorm.weight") and the
  // biases ("self_attn.v_proj.bias") — which AWQ rescales.
  std::vector<float>& parameter(const std::string& name);
  bool has_parameter(const std::string& name) const { return find_parameter(name) != nullptr; }
  int64_t out_features(const std::string& linear) const;
  int64_t in_features(const std::string& linear) const;

  // T tokens at a time, x is T x hidden. The stages other than attention
  // work token by token; attention takes `sequences` sequences of T /
  // sequences tokens each, one after the other, so several sequences can go
  // through the linears as one matrix product.
  void attn_input(const float* x, int64_t T, float* xn) const;        // input of q, k, v
  void attention(const float* xn, int64_t T, float* att,              // input of o (T x q_dim)
                 int64_t sequences = 1) const;
  void add_attn_output(const float* att, int64_t T, float* x) const;  // x += o(att)
  void mlp_input(const float* x, int64_t T, float* xn) const;         // input of gate, up
  void mlp_hidden(const float* xn, int64_t T, float* act) const;      // input of down (T x inter)
  void add_mlp_output(const float* act, int64_t T, float* x) const;   // x += down(act)

 private:
  const std::vector<float>* find_parameter(const std::string& name) const;
  void linear(const std::string& name, const float* X, int64_t T, float* Y, bool accumulate) const;
  io::ModelConfig config_;
  model::Rope rope_;
  std::vector<float> attn_norm_, mlp_norm_;
  std::map<std::string, std::vector<float>> weights_, biases_;
  // The products run in bf16 (kernels/bf16_gemm.h) on weights packed at
  // first use; threads running sequences at once share them.
  const kernels::Bf16Weights& packed(const std::string& linear) const;
  mutable std::map<std::string, kernels::Bf16Weights> packed_;
  mutable std::mutex packing_;
};

}  // namespace nibble::quant
