#include "lora/peft_adapter.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>

#include "core/error.h"
#include "core/files.h"

namespace nibble::lora {

using nlohmann::json;

namespace {

const std::string kKeyPrefix = "base_model.model.";

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::vector<float> to_f32(const TensorView& v) {
  std::vector<float> out(static_cast<size_t>(v.numel()));
  convert_to_f32(v.dtype, v.data, out.data(), out.size());
  return out;
}

LoraConfig parse_config(const std::string& path) {
  json j;
  try {
    j = json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    fail(path, ": not valid JSON: ", e.what());
  }
  NIBBLE_CHECK(j.is_object(), path, ": not a JSON object");
  LoraConfig c;
  try {
    const std::string type = j.value("peft_type", std::string("LORA"));
    NIBBLE_CHECK(type == "LORA", path, ": peft_type '", type, "' is not supported (LORA)");
    NIBBLE_CHECK(j.contains("r") && j["r"].is_number_integer(), path, ": r must be an integer");
    c.r = j["r"].get<int>();
    NIBBLE_CHECK(c.r > 0 && c.r <= 65536, path, ": r must be positive, got ", c.r);
    c.lora_alpha = j.contains("lora_alpha") && j["lora_alpha"].is_number() ? j["lora_alpha"].get<double>() : 8.0;
    NIBBLE_CHECK(std::isfinite(c.lora_alpha), path, ": lora_alpha must be finite");
    c.fan_in_fan_out = j.value("fan_in_fan_out", false);
    c.use_rslora = j.value("use_rslora", false);
    NIBBLE_CHECK(!j.value("use_dora", false), path, ": use_dora (DoRA) adapters are not supported");
    const std::string bias = j.contains("bias") && j["bias"].is_string() ? j["bias"].get<std::string>() : "none";
    NIBBLE_CHECK(bias == "none", path, ": bias '", bias, "' is not supported (none)");
    for (const char* pattern : {"rank_pattern", "alpha_pattern"})
      NIBBLE_CHECK(!j.contains(pattern) || j[pattern].is_null() || j[pattern].empty(), path, ": ",
                   pattern, " is not supported");
    NIBBLE_CHECK(j.contains("target_modules"), path, ": target_modules is missing");
    const json& t = j["target_modules"];
    if (t.is_string()) {
      if (t.get<std::string>() == "all-linear") {
        c.all_linear = true;
      } else {
        c.target_regex = t.get<std::string>();
        try {
          std::regex check(c.target_regex);
        } catch (const std::regex_error& e) {
          fail(path, ": target_modules regex '", c.target_regex, "' is invalid: ", e.what());
        }
      }
    } else {
      NIBBLE_CHECK(t.is_array() && !t.empty(), path, ": target_modules must be a list of names or a regex string");
      for (const auto& name : t) {
        NIBBLE_CHECK(name.is_string() && !name.get<std::string>().empty(), path,
                     ": target_modules entries must be non-empty strings");
        c.target_names.push_back(name.get<std::string>());
      }
    }
  } catch (const json::exception& e) {
    fail(path, ": malformed adapter config: ", e.what());
  }
  return c;
}

}  // namespace

double LoraConfig::scaling() const {
  return use_rslora ? lora_alpha / std::sqrt(double(r)) : lora_alpha / double(r);
}

PeftAdapter::PeftAdapter(const std::string& dir) : dir_(dir) {
  config_ = parse_config(join_path(dir, "adapter_config.json"));
  const std::string weights = join_path(dir, "adapter_model.safetensors");
  NIBBLE_CHECK(file_exists(weights), weights, ": missing (only safetensors adapters are read)");
  file_ = std::make_unique<io::SafetensorsFile>(weights);
  for (const auto& [key, view] : file_->tensors()) {
    NIBBLE_CHECK(key.rfind(kKeyPrefix, 0) == 0, weights, ": tensor '", key, "' does not start with '",
                 kKeyPrefix, "'");
    const bool is_a = ends_with(key, ".lora_A.weight"), is_b = ends_with(key, ".lora_B.weight");
    NIBBLE_CHECK(is_a || is_b, weights, ": tensor '", key,
                 "' is not a lora_A/lora_B weight (only plain LoRA adapters are supported)");
    const std::string module = key.substr(kKeyPrefix.size(), key.size() - kKeyPrefix.size() - 14);
    NIBBLE_CHECK(view.shape.size() == 2 &&
                     (view.dtype == DType::F32 || view.dtype == DType::BF16 || view.dtype == DType::F16),
                 weights, ": ", key, " must be a 2-D F32/BF16/F16 tensor, found ", dtype_name(view.dtype),
                 " ", view.shape_string());
    const int64_t rank = is_a ? view.dim(0) : view.dim(1);
    NIBBLE_CHECK(rank == config_.r, weights, ": ", key, " has rank ", rank, " but r is ", config_.r);
    NIBBLE_CHECK(targets(module), weights, ": ", key, " is for module '", module,
                 "', which target_modules does not select");
    (is_a ? modules_[module].A : modules_[module].B) = &view;
  }
  NIBBLE_CHECK(!modules_.empty(), weights, ": no LoRA weights");
  for (const auto& [module, pair] : modules_)
    NIBBLE_CHECK(pair.A && pair.B, weights, ": module '", module, "' has ",
                 pair.A ? "lora_A but no lora_B" : "lora_B but no lora_A");
}

bool PeftAdapter::targets(const std::string& module) const {
  if (config_.all_linear) return module != "lm_head";
  if (!config_.target_regex.empty()) return std::regex_match(module, std::regex(config_.target_regex));
  for (const std::string& t : config_.target_names)
    if (module == t || ends_with(module, "." + t)) return true;
  return false;
}

const LoraPair* PeftAdapter::find(const std::string& module) const {
  auto it = modules_.find(module);
  return it == modules_.end() ? nullptr : &it->second;
}

void PeftAdapter::check_against(const io::WeightStore& base) const {
  for (const auto& [module, pair] : modules_) {
    const std::string name = module + ".weight";
    NIBBLE_CHECK(base.has(name), dir_, ": the adapter has weights for '", module,
                 "', which the base model does not have (", name, ")");
    const TensorView& w = base.get(name);
    NIBBLE_CHECK(w.shape.size() == 2, name, ": base weight is not 2-D");
    const int64_t out = config_.fan_in_fan_out ? w.dim(1) : w.dim(0);
    const int64_t in = config_.fan_in_fan_out ? w.dim(0) : w.dim(1);
    NIBBLE_CHECK(pair.A->dim(1) == in && pair.B->dim(0) == out, dir_, ": '", module, "': lora_A is ",
                 pair.A->shape_string(), " and lora_B ", pair.B->shape_string(), ", expected [r, ", in,
                 "] and [", out, ", r] for the base weight ", w.shape_string(),
                 config_.fan_in_fan_out ? " (fan_in_fan_out)" : "");
  }
  int targeted = 0;
  for (const std::string& name : base.names()) {
    if (!ends_with(name, ".weight") || base.get(name).shape.size() != 2) continue;
    const std::string module = name.substr(0, name.size() - 7);
    if (module.find("embed") != std::string::npos || !targets(module)) continue;
    if (config_.all_linear && !find(module)) continue;  // all-linear names no modules itself
    NIBBLE_CHECK(find(module), dir_, ": target_modules selects '", module,
                 "' of the base model, but the adapter has no weights for it");
    ++targeted;
  }
  NIBBLE_CHECK(targeted > 0, dir_, ": target_modules selects no module of the base model");
}

void PeftAdapter::merge_into(const std::string& module, float* W, int64_t rows, int64_t cols) const {
  const LoraPair* p = find(module);
  NIBBLE_CHECK(p, dir_, ": no LoRA weights for '", module, "'");
  const std::vector<float> A = to_f32(*p->A), B = to_f32(*p->B);
  const int64_t r = config_.r, in = p->A->dim(1), out = p->B->dim(0);
  NIBBLE_CHECK(config_.fan_in_fan_out ? (rows == in && cols == out) : (rows == out && cols == in),
               module, ": base weight ", rows, " x ", cols, " does not fit lora_A ",
               p->A->shape_string(), " and lora_B ", p->B->shape_string());
  const float scaling = float(config_.scaling());
  std::vector<float> row(static_cast<size_t>(in));
  for (int64_t o = 0; o < out; ++o) {
    std::fill(row.begin(), row.end(), 0.0f);
    for (int64_t k = 0; k < r; ++k) {
      const float b = B[o * r + k] * scaling;
      const float* a = A.data() + k * in;
      for (int64_t i = 0; i < in; ++i) row[i] += b * a[i];
    }
    for (int64_t i = 0; i < in; ++i) {
      float& w = config_.fan_in_fan_out ? W[i * cols + o] : W[o * cols + i];
      w += row[i];
    }
  }
}

void PeftAdapter::merge_into_tensor(const std::string& tensor, float* W, int64_t rows, int64_t cols) const {
  if (!ends_with(tensor, ".weight")) return;
  const std::string module = tensor.substr(0, tensor.size() - 7);
  if (find(module)) merge_into(module, W, rows, cols);
}

std::string PeftAdapter::digest() const {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a offset basis
  auto mix = [&h](const void* data, size_t n) {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;  // FNV prime
  };
  auto mix_text = [&mix](const std::string& s) { mix(s.c_str(), s.size() + 1); };
  const double scaling = config_.scaling();
  mix(&scaling, sizeof scaling);
  mix(&config_.fan_in_fan_out, sizeof config_.fan_in_fan_out);
  for (const auto& [module, pair] : modules_)
    for (const TensorView* v : {pair.A, pair.B}) {
      mix_text(module);
      mix_text(std::string(dtype_name(v->dtype)) + v->shape_string());
      mix(v->data, v->nbytes);
    }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, h);
  return hex;
}

std::vector<float> merged_weight(const io::WeightStore& base, const PeftAdapter& adapter,
                                 const std::string& name) {
  const TensorView& v = base.get(name);
  std::vector<float> w = to_f32(v);
  if (v.shape.size() == 2) adapter.merge_into_tensor(name, w.data(), v.dim(0), v.dim(1));
  return w;
}

}  // namespace nibble::lora
