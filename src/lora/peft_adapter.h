// PEFT LoRA adapters (adapter_config.json + adapter_model.safetensors) and
// merging them into a base model's weights:
//
//   W' = W + scaling · B A,   scaling = lora_alpha / r  (lora_alpha / √r
//                                        with use_rslora)
//
// A = lora_A.weight [r, in], B = lora_B.weight [out, r]. With
// fan_in_fan_out the base weight is stored [in, out] (GPT-2's Conv1D) and
// the delta is transposed. Keys look like
// "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"; the
// module ("model.layers.0.self_attn.q_proj") must be one target_modules
// selects (a list of name suffixes, a regex string matched against the
// whole name, or "all-linear").
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "io/weight_store.h"

namespace nibble::lora {

struct LoraConfig {
  int r = 0;
  double lora_alpha = 0;
  bool fan_in_fan_out = false;
  bool use_rslora = false;
  std::vector<std::string> target_names;  // suffix match, or
  std::string target_regex;               // full match when set
  bool all_linear = false;
  double scaling() const;
};

struct LoraPair {
  const TensorView* A = nullptr;  // [r, in]
  const TensorView* B = nullptr;  // [out, r]
};

class PeftAdapter {
 public:
  // Reads and validates the directory; throws Error naming the file/field.
  explicit PeftAdapter(const std::string& dir);

  const LoraConfig& config() const { return config_; }
  const std::string& directory() const { return dir_; }
  // Adapter weights for a module ("model.layers.0.mlp.up_proj"), or null.
  const LoraPair* find(const std::string& module) const;
  const std::map<std::string, LoraPair>& modules() const { return modules_; }
  bool targets(const std::string& module) const;  // what target_modules selects

  // Throws unless every adapter module exists in the base with matching
  // shapes, and every base linear that target_modules selects has weights.
  void check_against(const io::WeightStore& base) const;

  // W [rows, cols] as stored (f32) += scaling · (B A), transposed with
  // fan_in_fan_out.
  void merge_into(const std::string& module, float* W, int64_t rows, int64_t cols) const;
  // The same for a tensor by name: merges when `tensor` is "<module>.weight"
  // of a module the adapter has weights for, else leaves W alone.
  void merge_into_tensor(const std::string& tensor, float* W, int64_t rows, int64_t cols) const;

  // 64-bit FNV-1a (hex) of everything merge_into reads: the scaling,
  // fan_in_fan_out and every lora_A/lora_B tensor's name, dtype, shape and
  // bytes. A resumed quantization compares it to tell a changed adapter.
  std::string digest() const;

 private:
  std::string dir_;
  LoraConfig config_;
  std::unique_ptr<io::SafetensorsFile> file_;
  std::map<std::string, LoraPair> modules_;
};

// The base tensor `name` in f32, with the adapter merged when it targets it.
std::vector<float> merged_weight(const io::WeightStore& base, const PeftAdapter& adapter,
                                 const std::string& name);

}  // namespace nibble::lora
