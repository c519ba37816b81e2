// A random PEFT LoRA adapter for the bundled model, written the way PEFT
// lays it out (adapter_config.json + adapter_model.safetensors with
// "base_model.model.<module>.lora_A/B.weight" keys), for the LoRA tests.
#pragma once

#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/files.h"
#include "io/model_source.h"
#include "io/safetensors.h"

namespace nibble::lora::test_adapter {

using json = nlohmann::json;

constexpr int kRank = 4;
constexpr double kAlpha = 8.0;
const char* const kTargets[] = {"q_proj", "v_proj", "down_proj"};

struct LoraTensors {
  std::vector<float> A, B;  // [r, in], [out, r]
};

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Writes the adapter; returns its weights by module for the unmerged oracle.
inline std::map<std::string, LoraTensors> write_adapter(const std::string& dir, const json& config,
                                                        const io::ModelSource& base, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  std::map<std::string, LoraTensors> modules;
  io::SafetensorsWriter w;
  for (int l = 0; l < base.config.num_layers; ++l)
    for (const char* t : kTargets) {
      const std::string module = "model.layers." + std::to_string(l) + (std::string(t) == "down_proj" ? ".mlp." : ".self_attn.") + t;
      const TensorView& weight = base.weights->get(module + ".weight");
      LoraTensors m;
      m.A.resize(size_t(kRank * weight.dim(1)));
      m.B.resize(size_t(weight.dim(0) * kRank));
      for (float& v : m.A) v = normal(rng);
      for (float& v : m.B) v = normal(rng);
      const std::string key = "base_model.model." + module;
      w.add(key + ".lora_A.weight", DType::F32, {kRank, weight.dim(1)}, f32_bytes(m.A));
      w.add(key + ".lora_B.weight", DType::F32, {weight.dim(0), kRank}, f32_bytes(m.B));
      modules[module] = std::move(m);
    }
  std::filesystem::create_directories(dir);
  w.write(dir + "/adapter_model.safetensors");
  write_text_file_atomically(dir + "/adapter_config.json", config.dump(2));
  return modules;
}

inline json adapter_config() {
  return {{"peft_type", "LORA"}, {"r", kRank}, {"lora_alpha", kAlpha}, {"lora_dropout", 0.05},
          {"target_modules", {"q_proj", "v_proj", "down_proj"}}, {"fan_in_fan_out", false},
          {"bias", "none"}, {"use_rslora", false}, {"task_type", "CAUSAL_LM"},
          {"base_model_name_or_path", "kjv-llama-4m"}};
}

}  // namespace nibble::lora::test_adapter
