#include "formats/gguf_linear_loader.h"

#include <cstring>

#include "core/error.h"
#include "core/parallel.h"
#include "formats/gguf_blocks.h"
#include "io/gguf_model.h"
#include "quant/gguf_linear.h"

namespace nibble::formats {

namespace {

bool is_float_type(io::GgmlType t) {
  return t == io::GgmlType::F32 || t == io::GgmlType::F16 || t == io::GgmlType::BF16;
}

// All rows of a block-quantized [rows, cols] tensor as f32.
std::vector<float> dequantize_tensor(const io::GgufTensorInfo& t, const std::string& where) {
  NIBBLE_CHECK(gguf_codec_supports(t.type), where, ": ", t.name, " has ggml type ",
               io::ggml_type_name(t.type), ", which nibble cannot decode");
  const int64_t cols = t.row_length(), rows = t.n_rows();
  const uint64_t row_bytes = gguf_row_bytes(t.type, cols);
  std::vector<float> out(static_cast<size_t>(rows * cols));
  parallel_for(rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      dequantize_row(t.type, t.data + uint64_t(r) * row_bytes, &out[size_t(r * cols)], cols);
  });
  return out;
}

// A dense f32 layer that owns the weights dequantized from GGUF blocks.
struct OwnedF32 {
  std::vector<float> values;
  TensorView view(int64_t rows, int64_t cols) const {
    TensorView v;
    v.dtype = DType::F32;
    v.shape = {rows, cols};
    v.data = values.data();
    v.nbytes = values.size() * sizeof(float);
    return v;
  }
};

class DequantizedLinear : private OwnedF32, public model::DenseLinear {
 public:
  DequantizedLinear(std::vector<float> w, int64_t rows, int64_t cols, io::GgmlType from)
      : OwnedF32{std::move(w)}, DenseLinear(view(rows, cols)), from_(from) {}
  std::string format() const override {
    return std::string(io::ggml_type_name(from_)) + " (dequantized to f32)";
  }

 private:
  io::GgmlType from_;
};

}  // namespace

model::LinearLoader gguf_linear_loader(const io::ModelSource& source) {
  NIBBLE_CHECK(source.gguf, source.path, ": not a GGUF model");
  std::shared_ptr<const io::GgufFile> file = source.gguf;
  return [file](const io::WeightStore& store, const std::string& prefix, int64_t in,
                int64_t out) -> std::unique_ptr<model::Linear> {
    const std::optional<std::string> gguf_name = io::gguf_name_for(prefix + ".weight");
    NIBBLE_CHECK(gguf_name, file->path(), ": no GGUF tensor name for ", prefix);
    const io::GgufTensorInfo* t = file->find_tensor(*gguf_name);
    NIBBLE_CHECK(t, file->path(), ": missing tensor ", *gguf_name);
    NIBBLE_CHECK(t->ne.size() == 2 && t->ne[0] == in && t->ne[1] == out, file->path(), ": ", t->name,
                 " has ne [", t->ne[0], t->ne.size() > 1 ? ", " + std::to_string(t->ne[1]) : "",
                 "], the config says [", in, ", ", out, "]");
    if (is_float_type(t->type)) return model::load_dense_linear(store, prefix, in, out);
    if (quant::gguf_linear_supports(t->type))
      return std::make_unique<quant::GgufLinear>(t->type, t->data, out, in, t->name);
    return std::make_unique<DequantizedLinear>(dequantize_tensor(*t, file->path()), out, in, t->type);
  };
}

void dequantize_gguf_embedding(io::ModelSource& source) {
  if (!source.gguf) return;
  const io::GgufTensorInfo& t = source.gguf->tensor("token_embd.weight");
  if (is_float_type(t.type)) return;
  std::vector<float> values = dequantize_tensor(t, source.path);
  std::vector<uint8_t> bytes(values.size() * sizeof(float));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  source.weights->add_owned("model.embed_tokens.weight", DType::F32, t.shape(), std::move(bytes));
}

}  // namespace nibble::formats
