#include "formats/gptq_checkpoint.h"

#include "core/error.h"

namespace nibble::formats {

using nlohmann::json;

namespace {
template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  const auto* b = reinterpret_cast<const uint8_t*>(v.data());
  return std::vector<uint8_t>(b, b + v.size() * sizeof(T));
}
}  // namespace

bool gptq_exportable(int64_t in, int64_t out) { return gptq_packable(in, out); }

json GptqLinearCodec::quantization_config() const {
  json qc = {{"bits", config_.bits},
          {"group_size", config_.group_size},
          {"damp_percent", config_.damp},
          {"desc_act", config_.desc_act},
          {"static_groups", config_.static_groups},
          {"sym", config_.symmetric},
          {"true_sequential", true},
          {"model_name_or_path", nullptr},
          {"model_file_base_name", nullptr},
          {"quant_method", "gptq"},
          {"checkpoint_format", config_.symmetric ? "gptq" : "gptq_v2"},
          {"lm_head", config_.lm_head_bits != 0},
          {"meta", {{"quantizer", {"nibble:0.1.0"}}, {"method", config_.method}}}};
  if (config_.lm_head_bits != 0 && config_.lm_head_bits != config_.bits)
    qc["dynamic"] = {{"+:lm_head", {{"bits", config_.lm_head_bits}}}};
  return qc;
}

void GptqLinearCodec::encode(const std::string& prefix, const quant::GptqOutput& q,
                             io::SafetensorsWriter& w) const {
  GptqTensors t = encode_gptq(q, bits_of(prefix), zero_format());
  w.add(prefix + ".qweight", DType::I32, {t.k / 32 * t.bits, t.n}, bytes_of(t.qweight));
  w.add(prefix + ".qzeros", DType::I32, {t.groups, t.n / 32 * t.bits}, bytes_of(t.qzeros));
  w.add(prefix + ".scales", DType::F16, {t.groups, t.n}, bytes_of(t.scales));
  w.add(prefix + ".g_idx", DType::I32, {t.k}, bytes_of(t.g_idx));
}

quant::GptqOutput GptqLinearCodec::decode(const std::string& prefix, const io::SafetensorsFile& f) const {
  return decode_gptq(prefix, f.tensor(prefix + ".qweight"), f.tensor(prefix + ".qzeros"),
                     f.tensor(prefix + ".scales"), &f.tensor(prefix + ".g_idx"), bits_of(prefix),
                     zero_format(), true);
}

double GptqLinearCodec::stored_bits(int64_t rows, int64_t cols, int64_t groups) const {
  // b-bit codes, fp16 scales and b-bit zeros per group, int32 g_idx per input.
  return double(config_.bits) * rows * cols + (16.0 + config_.bits) * rows * groups + 32.0 * cols;
}

}  // namespace nibble::formats
