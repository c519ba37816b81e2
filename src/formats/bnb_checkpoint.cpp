#include "formats/bnb_checkpoint.h"

#include <cstring>
#include <memory>

#include "core/error.h"
#include "io/hf_directory.h"
#include "quant/bnb_linear.h"

namespace nibble::formats {

using nlohmann::json;
using quant::FourBitType;

namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::vector<float> to_f32(const TensorView& v) {
  std::vector<float> out(static_cast<size_t>(v.numel()));
  convert_to_f32(v.dtype, v.data, out.data(), out.size());
  return out;
}

const TensorView& expect(const io::WeightStore& store, const std::string& name, DType dtype,
                         int64_t numel) {
  NIBBLE_CHECK(store.has(name), name, ": missing (bitsandbytes checkpoint)");
  const TensorView& v = store.get(name);
  NIBBLE_CHECK(v.dtype == dtype && v.numel() == numel, name, ": expected ", dtype_name(dtype), " with ",
               numel, " elements, found ", dtype_name(v.dtype), " ", v.shape_string());
  return v;
}

template <class T>
std::vector<T> copy_of(const TensorView& v) {
  std::vector<T> out(static_cast<size_t>(v.numel()));
  std::memcpy(out.data(), v.data, out.size() * sizeof(T));
  return out;
}

std::string torch_dtype_name(DType t) {
  switch (t) {
    case DType::BF16: return "bfloat16";
    case DType::F16: return "float16";
    default: return "float32";
  }
}

// The quant_state JSON as Python's json.dumps writes it (key order of
// QuantState.as_dict, ", " and ": " separators).
std::string quant_state_json(FourBitType type, DType dtype, int64_t rows, int64_t cols, bool dq,
                             float offset) {
  std::string s = "{\"quant_type\": \"" + quant::four_bit_name(type) +
                  "\", \"blocksize\": 64, \"dtype\": \"" + torch_dtype_name(dtype) +
                  "\", \"shape\": [" + std::to_string(rows) + ", " + std::to_string(cols) + "]";
  if (dq)
    s += ", \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": " +
         json(double(offset)).dump();
  return s + "}";
}

template <class T>
std::vector<uint8_t> bytes_of(const T* p, size_t count) {
  const auto* b = reinterpret_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + count * sizeof(T));
}

}  // namespace

bool is_bnb_linear_weight(const std::string& name, const TensorView& view) {
  return name.rfind("model.layers.", 0) == 0 && ends_with(name, "_proj.weight") &&
         view.shape.size() == 2;
}

quant::FourBitWeight read_bnb_4bit(const io::WeightStore& store, const std::string& prefix) {
  const std::string w = prefix + ".weight";
  const std::string nf4_key = w + ".quant_state.bitsandbytes__nf4";
  const std::string fp4_key = w + ".quant_state.bitsandbytes__fp4";
  NIBBLE_CHECK(store.has(nf4_key) != store.has(fp4_key), w,
               store.has(nf4_key) ? ": has both an nf4 and an fp4 quant_state"
                                  : ": no quant_state.bitsandbytes__nf4/__fp4 tensor");
  quant::FourBitWeight q;
  q.type = store.has(nf4_key) ? FourBitType::nf4 : FourBitType::fp4;
  const std::string key = q.type == FourBitType::nf4 ? nf4_key : fp4_key;
  const TensorView& packed_state = store.get(key);
  NIBBLE_CHECK(packed_state.dtype == DType::U8, key, ": expected U8 bytes of JSON, found ",
               dtype_name(packed_state.dtype));
  json state;
  try {
    state = json::parse(std::string(static_cast<const char*>(packed_state.data), packed_state.nbytes));
  } catch (const json::exception& e) {
    fail(key, ": not valid JSON: ", e.what());
  }
  NIBBLE_CHECK(state.is_object(), key, ": quant_state is not a JSON object");
  try {
    NIBBLE_CHECK(state.value("quant_type", std::string()) == quant::four_bit_name(q.type), key,
                 ": quant_type '", state.value("quant_type", std::string()),
                 "' does not match the tensor name");
    NIBBLE_CHECK(state.value("blocksize", 0) == quant::kFourBitBlock, key, ": blocksize ",
                 state.value("blocksize", 0), " is not supported (64, as transformers writes)");
    NIBBLE_CHECK(state.contains("shape") && state["shape"].is_array() && state["shape"].size() == 2,
                 key, ": shape must be [out, in]");
    for (const auto& d : state["shape"]) {
      NIBBLE_CHECK(d.is_number_integer() && d.get<int64_t>() > 0 && d.get<int64_t>() < (int64_t(1) << 31),
                   key, ": bad shape ", state["shape"].dump());
      q.shape.push_back(d.get<int64_t>());
    }
  } catch (const json::exception& e) {
    fail(key, ": malformed quant_state: ", e.what());
  }
  const int64_t n = q.numel(), nb = (n + quant::kFourBitBlock - 1) / quant::kFourBitBlock;
  NIBBLE_CHECK(store.has(w), w, ": missing (bitsandbytes checkpoint)");
  const TensorView& packed = store.get(w);  // any quant_storage dtype: the same bytes
  NIBBLE_CHECK(int64_t(packed.nbytes) == (n + 1) / 2, w, ": ", packed.nbytes, " bytes of codes for ",
               n, " weights, expected ", (n + 1) / 2);
  q.packed.assign(static_cast<const uint8_t*>(packed.data),
                  static_cast<const uint8_t*>(packed.data) + packed.nbytes);
  const std::vector<float> map = copy_of<float>(expect(store, w + ".quant_map", DType::F32, 16));
  std::copy(map.begin(), map.end(), q.table.begin());
  q.double_quant = store.has(w + ".nested_absmax");
  if (!q.double_quant) {
    q.absmax = copy_of<float>(expect(store, w + ".absmax", DType::F32, nb));
    return q;
  }
  NIBBLE_CHECK(state.contains("nested_offset") && state["nested_offset"].is_number(), key,
               ": double-quantized weight without a numeric nested_offset");
  NIBBLE_CHECK(!state.contains("nested_blocksize") || state["nested_blocksize"] == quant::kNestedBlock,
               key, ": nested_blocksize must be 256");
  q.nested.codes = copy_of<uint8_t>(expect(store, w + ".absmax", DType::U8, nb));
  q.nested.absmax = copy_of<float>(expect(store, w + ".nested_absmax", DType::F32,
                                          (nb + quant::kNestedBlock - 1) / quant::kNestedBlock));
  q.nested.offset = state["nested_offset"].get<float>();
  const std::vector<float> nested_map =
      copy_of<float>(expect(store, w + ".nested_quant_map", DType::F32, 256));
  q.absmax = quant::dequantize_absmax(q.nested, nested_map.data());
  return q;
}

quant::Int8Weight read_bnb_int8(const io::WeightStore& store, const std::string& prefix) {
  const std::string w = prefix + ".weight";
  NIBBLE_CHECK(store.has(w), w, ": missing (bitsandbytes checkpoint)");
  const TensorView& cb = store.get(w);
  NIBBLE_CHECK(cb.dtype == DType::I8 && cb.shape.size() == 2, w, ": expected I8 [out, in], found ",
               dtype_name(cb.dtype), " ", cb.shape_string());
  if (store.has(prefix + ".weight_format")) {
    const TensorView& f = store.get(prefix + ".weight_format");
    NIBBLE_CHECK(f.numel() == 1 && (f.dtype == DType::U8 || f.dtype == DType::I8) &&
                     *static_cast<const uint8_t*>(f.data) == 0,
                 prefix, ".weight_format: only the row-major layout (0) is supported");
  }
  quant::Int8Weight q;
  q.rows = cb.dim(0);
  q.cols = cb.dim(1);
  q.cb = copy_of<int8_t>(cb);
  q.scb = copy_of<float>(expect(store, prefix + ".SCB", DType::F32, q.rows));
  return q;
}

model::LinearLoader bnb_quantizing_loader(const BnbOptions& o) {
  return [o](const io::WeightStore& store, const std::string& prefix, int64_t in,
             int64_t out) -> std::unique_ptr<model::Linear> {
    const std::string name = prefix + ".weight";
    if (!store.has(name) || !is_bnb_linear_weight(name, store.get(name)))
      return model::load_dense_linear(store, prefix, in, out);
    const TensorView& v = store.get(name);
    NIBBLE_CHECK(v.shape == std::vector<int64_t>({out, in}), name, ": shape ", v.shape_string(),
                 ", expected [", out, ", ", in, "]");
    const std::vector<float> w = to_f32(v);
    if (!o.four_bit)
      return std::make_unique<quant::Int8Linear>(quant::quantize_int8(w.data(), out, in),
                                                 o.int8_threshold);
    return std::make_unique<quant::FourBitLinear>(
        quant::quantize_4bit(w.data(), {out, in}, o.type, o.double_quant), prefix);
  };
}

model::LinearLoader bnb_checkpoint_loader(const io::ModelSource& source) {
  const json& qc = source.config.raw["quantization_config"];
  const float threshold = qc.contains("llm_int8_threshold") && qc["llm_int8_threshold"].is_number()
                              ? qc["llm_int8_threshold"].get<float>()
                              : 6.0f;
  return [threshold](const io::WeightStore& store, const std::string& prefix, int64_t in,
                     int64_t out) -> std::unique_ptr<model::Linear> {
    const std::string state = prefix + ".weight.quant_state.bitsandbytes__";
    std::unique_ptr<model::Linear> linear;
    if (store.has(state + "nf4") || store.has(state + "fp4"))
      linear = std::make_unique<quant::FourBitLinear>(read_bnb_4bit(store, prefix), prefix);
    else if (store.has(prefix + ".SCB"))
      linear = std::make_unique<quant::Int8Linear>(read_bnb_int8(store, prefix), threshold);
    else
      return model::load_dense_linear(store, prefix, in, out);
    NIBBLE_CHECK(linear->in_features() == in && linear->out_features() == out, prefix,
                 ": quantized weight is ", linear->out_features(), " x ", linear->in_features(),
                 ", the config says ", out, " x ", in);
    return linear;
  };
}

json bnb_quantization_config(const BnbOptions& o) {
  return {{"quant_method", "bitsandbytes"},
          {"load_in_4bit", o.four_bit},
          {"load_in_8bit", !o.four_bit},
          {"_load_in_4bit", o.four_bit},
          {"_load_in_8bit", !o.four_bit},
          {"bnb_4bit_quant_type", quant::four_bit_name(o.type)},
          {"bnb_4bit_use_double_quant", o.double_quant},
          {"bnb_4bit_compute_dtype", "bfloat16"},
          {"bnb_4bit_quant_storage", "uint8"},
          {"llm_int8_threshold", o.int8_threshold},
          {"llm_int8_skip_modules", nullptr},
          {"llm_int8_enable_fp32_cpu_offload", false},
          {"llm_int8_has_fp16_weight", false}};
}

BnbWriteSummary write_bnb_checkpoint(const io::ModelSource& source, const WeightReader& read,
                                     const BnbOptions& o, const std::string& out) {
  io::check_new_hf_directory(out);
  // The writer asks for a linear's tensors one after another (name order);
  // the last quantized linear is kept so it is quantized once.
  struct Last {
    std::string name;
    quant::FourBitWeight four;
    quant::Int8Weight eight;
  };
  auto last = std::make_shared<Last>();
  auto quantized = [last, read, o](const std::string& name, int64_t rows, int64_t cols) -> Last& {
    if (last->name != name) {
      const std::vector<float> w = read(name);
      if (o.four_bit)
        last->four = quant::quantize_4bit(w.data(), {rows, cols}, o.type, o.double_quant);
      else
        last->eight = quant::quantize_int8(w.data(), rows, cols);
      last->name = name;
    }
    return *last;
  };
  auto fill = [quantized](const std::string& name, int64_t rows, int64_t cols, auto member) {
    return [quantized, name, rows, cols, member](uint8_t* dst) {
      const auto& v = member(quantized(name, rows, cols));
      std::memcpy(dst, v.data(), v.size() * sizeof(v[0]));
    };
  };

  io::SafetensorsWriter w;
  double bits = 0, weights = 0;
  for (const std::string& name : source.weights->names()) {
    const TensorView& view = source.weights->get(name);
    if (!is_bnb_linear_weight(name, view)) {
      w.add_lazy(name, view.dtype, view.shape,
                 [view](uint8_t* dst) { std::memcpy(dst, view.data, view.nbytes); });
      continue;
    }
    const int64_t rows = view.dim(0), cols = view.dim(1), n = rows * cols;
    const std::string stem = name.substr(0, name.size() - 7);  // without ".weight"
    weights += double(n);
    if (!o.four_bit) {
      w.add_lazy(name, DType::I8, {rows, cols}, fill(name, rows, cols, [](Last& l) -> auto& { return l.eight.cb; }));
      w.add_lazy(stem + ".SCB", DType::F32, {rows}, fill(name, rows, cols, [](Last& l) -> auto& { return l.eight.scb; }));
      w.add(stem + ".weight_format", DType::U8, {}, {0});
      bits += 8.0 * double(n) + 32.0 * double(rows);
      continue;
    }
    const int64_t nb = (n + quant::kFourBitBlock - 1) / quant::kFourBitBlock;
    const int64_t nested = (nb + quant::kNestedBlock - 1) / quant::kNestedBlock;
    float offset = 0;  // the JSON is written up front, so its offset is computed up front
    if (o.double_quant) offset = quant::absmax_offset(quant::block_absmax(read(name).data(), n));
    const std::string state = quant_state_json(o.type, view.dtype, rows, cols, o.double_quant, offset);
    w.add_lazy(name, DType::U8, {(n + 1) / 2, 1}, fill(name, rows, cols, [](Last& l) -> auto& { return l.four.packed; }));
    const auto& table = quant::four_bit_table(o.type);
    w.add(name + ".quant_map", DType::F32, {16}, bytes_of(table.data(), table.size()));
    w.add(name + ".quant_state.bitsandbytes__" + quant::four_bit_name(o.type), DType::U8,
          {int64_t(state.size())}, bytes_of(state.data(), state.size()));
    if (o.double_quant) {
      w.add_lazy(name + ".absmax", DType::U8, {nb}, fill(name, rows, cols, [](Last& l) -> auto& { return l.four.nested.codes; }));
      w.add_lazy(name + ".nested_absmax", DType::F32, {nested}, fill(name, rows, cols, [](Last& l) -> auto& { return l.four.nested.absmax; }));
      const auto& map = quant::dynamic_map();
      w.add(name + ".nested_quant_map", DType::F32, {256}, bytes_of(map.data(), map.size()));
      bits += 4.0 * double(n) + 8.0 * double(nb) + 32.0 * double(nested) + 32.0;
    } else {
      w.add_lazy(name + ".absmax", DType::F32, {nb}, fill(name, rows, cols, [](Last& l) -> auto& { return l.four.absmax; }));
      bits += 4.0 * double(n) + 32.0 * double(nb);
    }
  }
  w.set_metadata("format", "pt");
  json config = source.config.raw.is_object() ? source.config.raw : json::object();
  config["quantization_config"] = bnb_quantization_config(o);
  io::write_hf_directory(source, w, config, out);
  return {w.data_bytes(), weights > 0 ? bits / weights : 0.0};
}

}  // namespace nibble::formats
