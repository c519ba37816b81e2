#include "lora/merge.h"

#include <cstring>

#include "core/error.h"
#include "core/half.h"
#include "io/hf_directory.h"

namespace nibble::lora {

void write_merged_model(const io::ModelSource& base, const PeftAdapter& adapter,
                        const std::string& out, DType dtype) {
  NIBBLE_CHECK(dtype == DType::F32 || dtype == DType::BF16, "merged weights must be F32 or BF16");
  NIBBLE_CHECK(base.format == "hf", base.path, ": merging reads Hugging Face checkpoints");
  NIBBLE_CHECK(!base.config.raw.is_object() || !base.config.raw.contains("quantization_config"),
               base.path, ": is quantized; merge the adapter into the dense base model");
  adapter.check_against(*base.weights);
  io::check_new_hf_directory(out);
  io::SafetensorsWriter w;
  for (const std::string& name : base.weights->names()) {
    const TensorView& view = base.weights->get(name);
    const std::string suffix = ".weight";
    const bool merged = name.size() > suffix.size() &&
                        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
                        adapter.find(name.substr(0, name.size() - suffix.size()));
    if (!merged) {
      w.add_lazy(name, view.dtype, view.shape,
                 [view](uint8_t* dst) { std::memcpy(dst, view.data, view.nbytes); });
      continue;
    }
    const io::WeightStore* store = base.weights.get();
    w.add_lazy(name, dtype, view.shape, [store, &adapter, name, dtype](uint8_t* dst) {
      const std::vector<float> m = merged_weight(*store, adapter, name);
      if (dtype == DType::F32) {
        std::memcpy(dst, m.data(), m.size() * sizeof(float));
        return;
      }
      for (size_t i = 0; i < m.size(); ++i) {
        const uint16_t h = f32_to_bf16(m[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
    });
  }
  w.set_metadata("format", "pt");
  nlohmann::json config = base.config.raw.is_object() ? base.config.raw : nlohmann::json::object();
  if (dtype == DType::F32) config["torch_dtype"] = "float32";
  io::write_hf_directory(base, w, config, out);
}

}  // namespace nibble::lora
