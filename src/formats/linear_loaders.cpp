#include "formats/linear_loaders.h"

#include "core/error.h"
#include "formats/bnb_checkpoint.h"
#include "formats/gptq_codec.h"
#include "quant/quantized_linear.h"

namespace nibble::formats {

model::LinearLoader linear_loader_for(const io::ModelSource& source) {
  const nlohmann::json& raw = source.config.raw;
  if (!raw.is_object() || !raw.contains("quantization_config")) return model::load_dense_linear;
  const nlohmann::json& qc = raw["quantization_config"];
  const std::string where = source.directory + "/config.json: quantization_config";
  NIBBLE_CHECK(qc.is_object(), where, " is not an object");
  const std::string method = qc.value("quant_method", std::string("gptq"));
  if (method == "bitsandbytes") return bnb_checkpoint_loader(source);
  NIBBLE_CHECK(method == "gptq", where, ": quant_method '", method, "' is not supported yet");
  const int bits = qc.contains("bits") ? qc["bits"].get<int>() : qc.value("w_bit", 4);
  const std::string fmt = qc.value("checkpoint_format", std::string("gptq"));
  NIBBLE_CHECK(fmt == "gptq" || fmt == "gptq_v2", where, ": checkpoint_format '", fmt,
               "' is not supported (gptq, gptq_v2)");
  const ZeroFormat zeros = fmt == "gptq_v2" ? ZeroFormat::v2 : ZeroFormat::v1;
  const int group_size = qc.contains("group_size") ? qc["group_size"].get<int>() : qc.value("q_group_size", 128);
  const bool sym = qc.value("sym", true);
  // Writers known to mask v1 zero fields (so all-ones means z = 0).
  bool masked_v1 = false;
  if (qc.contains("meta") && qc["meta"].contains("quantizer"))
    for (const auto& q : qc["meta"]["quantizer"])
      if (q.is_string() && (q.get<std::string>().rfind("nibble", 0) == 0 ||
                            q.get<std::string>().rfind("gptqmodel", 0) == 0))
        masked_v1 = true;
  return [=](const io::WeightStore& store, const std::string& prefix, int64_t in,
             int64_t out) -> std::unique_ptr<model::Linear> {
    if (!store.has(prefix + ".qweight")) return model::load_dense_linear(store, prefix, in, out);
    const TensorView* g_idx = store.has(prefix + ".g_idx") ? &store.get(prefix + ".g_idx") : nullptr;
    quant::GptqOutput q = decode_gptq(prefix, store.get(prefix + ".qweight"), store.get(prefix + ".qzeros"),
                                      store.get(prefix + ".scales"), g_idx, bits, zeros, masked_v1);
    NIBBLE_CHECK(q.cols == in && q.rows == out, prefix, ": GPTQ tensors are ", q.rows, " x ", q.cols,
                 ", the config says ", out, " x ", in);
    // A checkpoint that says sym but stores other zeros still runs, as asymmetric.
    bool all_mid = true;
    for (float z : q.zeros) all_mid = all_mid && z == float(1 << (bits - 1));
    return std::make_unique<quant::QuantizedLinear>(
        quant::to_quant_tensor(q, bits, group_size, sym && all_mid), prefix);
  };
}

}  // namespace nibble::formats
