#include "formats/linear_loaders.h"

#include "core/error.h"
#include "formats/gptq_codec.h"
#include "quant/layer_pipeline.h"

namespace nibble::formats {

namespace {

// A GPTQ linear, dequantized once to f32.
class DequantizedGptqLinear : public model::Linear {
 public:
  DequantizedGptqLinear(const quant::GptqOutput& q, int bits)
      : Linear(q.cols, q.rows), weights_(quant::dequantize(q)), bits_(bits), groups_(q.groups),
        group_size_(q.groups ? q.cols / q.groups : q.cols) {}
  std::string format() const override { return cat("gptq-w", bits_, "g", group_size_); }
  size_t weight_bytes() const override {
    return size_t(in_features() * out_features() * bits_ / 8 + groups_ * out_features() * (2 + bits_ / 8.0));
  }

 protected:
  void multiply(const float* X, int64_t n, float* Y) const override {
    model::DenseLinear dense(view());
    dense.forward(X, n, Y);
  }

 private:
  TensorView view() const {
    TensorView v;
    v.dtype = DType::F32;
    v.shape = {out_features(), in_features()};
    v.data = weights_.data();
    v.nbytes = weights_.size() * 4;
    return v;
  }
  std::vector<float> weights_;
  int bits_, groups_;
  int64_t group_size_;
};

}  // namespace

model::LinearLoader linear_loader_for(const io::ModelSource& source) {
  const nlohmann::json& raw = source.config.raw;
  if (!raw.is_object() || !raw.contains("quantization_config")) return model::load_dense_linear;
  const nlohmann::json& qc = raw["quantization_config"];
  const std::string where = source.directory + "/config.json: quantization_config";
  NIBBLE_CHECK(qc.is_object(), where, " is not an object");
  const std::string method = qc.value("quant_method", std::string("gptq"));
  NIBBLE_CHECK(method == "gptq", where, ": quant_method '", method, "' is not supported yet");
  const int bits = qc.contains("bits") ? qc["bits"].get<int>() : qc.value("w_bit", 4);
  const std::string fmt = qc.value("checkpoint_format", std::string("gptq"));
  NIBBLE_CHECK(fmt == "gptq" || fmt == "gptq_v2", where, ": checkpoint_format '", fmt,
               "' is not supported (gptq, gptq_v2)");
  const ZeroFormat zeros = fmt == "gptq_v2" ? ZeroFormat::v2 : ZeroFormat::v1;
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
    return std::make_unique<DequantizedGptqLinear>(q, bits);
  };
}

}  // namespace nibble::formats
