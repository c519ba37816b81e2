#include "formats/awq_checkpoint.h"

namespace nibble::formats {

using nlohmann::json;

namespace {
template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  const auto* b = reinterpret_cast<const uint8_t*>(v.data());
  return std::vector<uint8_t>(b, b + v.size() * sizeof(T));
}
}  // namespace

json AwqLinearCodec::quantization_config() const {
  // AutoAWQ's AwqConfig.to_transformers_dict().
  return {{"quant_method", "awq"},       {"zero_point", true}, {"group_size", config_.group_size},
          {"bits", 4},                   {"version", "gemm"},  {"modules_to_not_convert", nullptr}};
}

json AwqLinearCodec::config_file() const {
  // AutoAWQ's AwqConfig.to_dict(), which it reads back from quant_config.json.
  return {{"zero_point", true}, {"q_group_size", config_.group_size}, {"w_bit", 4},
          {"version", "GEMM"},  {"modules_to_not_convert", nullptr}};
}

void AwqLinearCodec::encode(const std::string& prefix, const quant::GptqOutput& q,
                            io::SafetensorsWriter& w) const {
  AwqTensors t = encode_awq_gemm(q, config_.group_size);
  w.add(prefix + ".qweight", DType::I32, {t.k, t.n / 8}, bytes_of(t.qweight));
  w.add(prefix + ".qzeros", DType::I32, {t.groups, t.n / 8}, bytes_of(t.qzeros));
  w.add(prefix + ".scales", DType::F16, {t.groups, t.n}, bytes_of(t.scales));
}

quant::GptqOutput AwqLinearCodec::decode(const std::string& prefix, const io::SafetensorsFile& f) const {
  return decode_awq_gemm(prefix, f.tensor(prefix + ".qweight"), f.tensor(prefix + ".qzeros"),
                         f.tensor(prefix + ".scales"), config_.group_size);
}

double AwqLinearCodec::stored_bits(int64_t rows, int64_t cols, int64_t groups) const {
  // 4-bit codes, an fp16 scale and a 4-bit zero per group; no g_idx.
  return 4.0 * rows * cols + 20.0 * rows * groups;
}

}  // namespace nibble::formats
