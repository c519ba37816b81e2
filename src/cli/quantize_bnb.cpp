#include "cli/quantize_bnb.h"

#include <chrono>
#include <cstdio>
#include <memory>

#include "core/error.h"
#include "formats/bnb_checkpoint.h"
#include "io/model_source.h"
#include "lora/peft_adapter.h"

namespace nibble::cli {

bool is_bnb_method(const std::string& m) { return m == "nf4" || m == "fp4" || m == "int8"; }

void quantize_bnb(const std::string& model, const std::string& out, const std::string& method,
                  bool double_quant, const std::string& adapter_dir) {
  const auto start = std::chrono::steady_clock::now();
  NIBBLE_CHECK(!double_quant || method != "int8", "--double-quant applies to nf4/fp4, not int8");
  const io::ModelSource src = io::open_model(model);
  NIBBLE_CHECK(src.format == "hf", model, ": quantize reads Hugging Face checkpoints");
  NIBBLE_CHECK(!src.config.raw.contains("quantization_config"), model, ": is already quantized");
  std::unique_ptr<lora::PeftAdapter> adapter;
  if (!adapter_dir.empty()) {
    adapter = std::make_unique<lora::PeftAdapter>(adapter_dir);
    adapter->check_against(*src.weights);
  }
  formats::BnbOptions o;
  o.four_bit = method != "int8";
  if (o.four_bit) o.type = quant::four_bit_type_from_name(method);
  o.double_quant = double_quant;
  const io::WeightStore* store = src.weights.get();
  const lora::PeftAdapter* merge = adapter.get();
  const formats::WeightReader read = [store, merge](const std::string& name) {
    if (merge) return lora::merged_weight(*store, *merge, name);
    const TensorView& v = store->get(name);
    std::vector<float> w(static_cast<size_t>(v.numel()));
    convert_to_f32(v.dtype, v.data, w.data(), w.size());
    return w;
  };
  const formats::BnbWriteSummary s = formats::write_bnb_checkpoint(src, read, o, out);
  const size_t before = src.weights->total_bytes();
  std::printf("wrote %s (%s%s%s)\n", out.c_str(), method.c_str(), double_quant ? ", double quant" : "",
              adapter ? ", LoRA merged" : "");
  std::printf("size: %.2f MiB -> %.2f MiB\n", before / 1048576.0, s.bytes / 1048576.0);
  std::printf("bits per weight: %.3f in the quantized linears; %.3f over all parameters\n",
              s.linear_bits_per_weight, 8.0 * double(s.bytes) / double(src.config.parameter_count()));
  std::printf("wall time: %.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace nibble::cli
