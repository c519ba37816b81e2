// bitsandbytes checkpoints: `nibble quantize --method nf4|fp4|int8` writes
// the tensors and quant_state keys transformers reads (specs/bitsandbytes.md
// §2, §5); an independent decoder written here reads them back to the same
// weights the codec produces in memory; the loader runs them like the
// on-the-fly path; broken checkpoints end in clean errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "formats/bnb_checkpoint.h"
#include "io/model_source.h"
#include "model/llama.h"
#include "test_paths.h"

namespace nibble::formats {
namespace {

using nlohmann::json;

std::vector<float> to_f32(const TensorView& v) {
  std::vector<float> out(static_cast<size_t>(v.numel()));
  convert_to_f32(v.dtype, v.data, out.data(), out.size());
  return out;
}

template <class T>
const T* data_of(const TensorView& v) {
  return static_cast<const T*>(v.data);
}

std::string quantize_bundled(const std::string& args, const std::string& tag) {
  const std::string out = test::temp_dir(tag) + "/q";
  std::string log;
  EXPECT_EQ(test::run_command(test::cli_path() + " quantize -m " + test::bundled_model() + " -o " +
                                  out + " " + args,
                              &log),
            0)
      << log;
  return out;
}

// The spec's dequantization (§3 step 6, §4 step 3), straight from the tensors.
std::vector<float> decode_4bit(const io::WeightStore& s, const std::string& w, int64_t n, bool dq) {
  // Float tensors are copied out: safetensors does not align them.
  const std::vector<float> map = to_f32(s.get(w + ".quant_map"));
  const uint8_t* packed = data_of<uint8_t>(s.get(w));
  std::vector<float> out(static_cast<size_t>(n));
  float offset = 0;
  std::vector<float> nested_map, nested_absmax, absmax_f32;
  const uint8_t* absmax_u8 = nullptr;
  if (dq) {
    const TensorView& state = s.get(w + ".quant_state.bitsandbytes__nf4");
    offset = json::parse(std::string(data_of<char>(state), state.nbytes))["nested_offset"].get<float>();
    nested_map = to_f32(s.get(w + ".nested_quant_map"));
    nested_absmax = to_f32(s.get(w + ".nested_absmax"));
    absmax_u8 = data_of<uint8_t>(s.get(w + ".absmax"));
  } else {
    absmax_f32 = to_f32(s.get(w + ".absmax"));
  }
  for (int64_t i = 0; i < n; ++i) {
    const int code = i % 2 == 0 ? packed[i / 2] >> 4 : packed[i / 2] & 15;
    const float absmax = dq ? nested_map[absmax_u8[i / 64]] * nested_absmax[i / 64 / 256] + offset
                            : absmax_f32[i / 64];
    out[i] = map[code] * absmax;
  }
  return out;
}

TEST(BnbCheckpoint, Nf4DoubleQuantLayoutAndRoundTrip) {
  const std::string out = quantize_bundled("--method nf4 --double-quant", "bnb-nf4");
  const io::ModelSource base = io::open_model(test::bundled_model());
  const io::ModelSource q = io::open_model(out);
  const json& qc = q.config.raw["quantization_config"];
  EXPECT_EQ(qc["quant_method"], "bitsandbytes");
  EXPECT_EQ(qc["load_in_4bit"], true);
  EXPECT_EQ(qc["load_in_8bit"], false);
  EXPECT_EQ(qc["bnb_4bit_quant_type"], "nf4");
  EXPECT_EQ(qc["bnb_4bit_use_double_quant"], true);
  EXPECT_EQ(qc["bnb_4bit_compute_dtype"], "bfloat16");
  EXPECT_EQ(qc["bnb_4bit_quant_storage"], "uint8");
  EXPECT_EQ(qc["llm_int8_threshold"], 6.0);

  int linears = 0;
  for (const std::string& name : base.weights->names()) {
    const TensorView& v = base.weights->get(name);
    if (!is_bnb_linear_weight(name, v)) {  // embeddings, norms, lm_head: unchanged
      ASSERT_TRUE(q.weights->has(name)) << name;
      EXPECT_EQ(q.weights->get(name).dtype, v.dtype) << name;
      EXPECT_EQ(std::memcmp(q.weights->get(name).data, v.data, v.nbytes), 0) << name;
      continue;
    }
    ++linears;
    const int64_t n = v.numel(), nb = (n + 63) / 64;
    std::set<std::string> keys;
    for (const std::string& k : q.weights->names())
      if (k.rfind(name + ".", 0) == 0) keys.insert(k.substr(name.size() + 1));
    EXPECT_EQ(keys, (std::set<std::string>{"absmax", "quant_map", "nested_absmax", "nested_quant_map",
                                           "quant_state.bitsandbytes__nf4"}))
        << name;
    const TensorView& w = q.weights->get(name);
    EXPECT_EQ(w.dtype, DType::U8);
    EXPECT_EQ(w.shape, (std::vector<int64_t>{(n + 1) / 2, 1}));
    EXPECT_EQ(q.weights->get(name + ".absmax").dtype, DType::U8);
    EXPECT_EQ(q.weights->get(name + ".absmax").shape, std::vector<int64_t>{nb});
    EXPECT_EQ(q.weights->get(name + ".nested_absmax").shape, std::vector<int64_t>{(nb + 255) / 256});
    EXPECT_EQ(q.weights->get(name + ".nested_quant_map").shape, std::vector<int64_t>{256});
    EXPECT_EQ(q.weights->get(name + ".quant_map").shape, std::vector<int64_t>{16});
    const TensorView& state = q.weights->get(name + ".quant_state.bitsandbytes__nf4");
    EXPECT_EQ(state.dtype, DType::U8);
    const std::string text(data_of<char>(state), state.nbytes);
    const std::string head = "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [" +
                             std::to_string(v.dim(0)) + ", " + std::to_string(v.dim(1)) +
                             "], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": ";
    EXPECT_EQ(text.substr(0, head.size()), head);

    // The file decodes (independently) to exactly the in-memory codec's weights.
    const std::vector<float> src = to_f32(v);
    const quant::FourBitWeight mem = quant::quantize_4bit(src.data(), v.shape, quant::FourBitType::nf4, true);
    std::vector<float> expected(static_cast<size_t>(n));
    quant::dequantize_4bit(mem, expected.data());
    EXPECT_EQ(decode_4bit(*q.weights, name, n, true), expected) << name;
    std::vector<float> read(static_cast<size_t>(n));
    quant::dequantize_4bit(read_bnb_4bit(*q.weights, name.substr(0, name.size() - 7)), read.data());
    EXPECT_EQ(read, expected) << name;
  }
  EXPECT_EQ(linears, 4 * 7);
}

TEST(BnbCheckpoint, SavedCheckpointsRunLikeOnTheFlyQuantization) {
  const io::ModelSource base = io::open_model(test::bundled_model());
  const std::vector<int> tokens = {1, 45, 300, 7, 99, 512};
  auto logits_of = [&](const io::ModelSource& s, const model::LinearLoader& loader) {
    model::LlamaModel m(s.config, s.weights, loader);
    model::KVCache cache(s.config, 1, 16);
    std::vector<model::BatchToken> batch;
    for (size_t i = 0; i < tokens.size(); ++i) batch.push_back({tokens[i], int(i), 0, true});
    std::vector<float> logits(tokens.size() * size_t(s.config.vocab_size));
    m.forward(batch, cache, logits.data());
    return logits;
  };
  const std::vector<float> dense = logits_of(base, model::load_dense_linear);
  struct Case {
    const char* args;
    BnbOptions options;
  };
  const Case cases[] = {{"--method fp4", {true, quant::FourBitType::fp4, false, 6.0f}},
                        {"--method nf4", {true, quant::FourBitType::nf4, false, 6.0f}},
                        {"--method int8", {false, quant::FourBitType::nf4, false, 6.0f}}};
  for (const Case& c : cases) {
    const io::ModelSource q = io::open_model(quantize_bundled(c.args, "bnb-run"));
    const std::vector<float> saved = logits_of(q, bnb_checkpoint_loader(q));
    const std::vector<float> fly = logits_of(base, bnb_quantizing_loader(c.options));
    EXPECT_EQ(saved, fly) << c.args;
    double diff = 0, scale = 0;
    for (size_t i = 0; i < dense.size(); ++i) {
      diff = std::max(diff, double(std::fabs(saved[i] - dense[i])));
      scale = std::max(scale, double(std::fabs(dense[i])));
    }
    EXPECT_LT(diff / scale, c.options.four_bit ? 0.3 : 0.05) << c.args;  // quantized, not garbage
    EXPECT_GT(diff, 0.0) << c.args;
  }
}

TEST(BnbCheckpoint, Int8Layout) {
  const io::ModelSource q = io::open_model(quantize_bundled("--method int8", "bnb-int8"));
  EXPECT_EQ(q.config.raw["quantization_config"]["load_in_8bit"], true);
  const std::string p = "model.layers.1.mlp.down_proj";
  EXPECT_EQ(q.weights->get(p + ".weight").dtype, DType::I8);
  EXPECT_EQ(q.weights->get(p + ".SCB").dtype, DType::F32);
  EXPECT_EQ(q.weights->get(p + ".SCB").shape, std::vector<int64_t>{256});
  EXPECT_EQ(q.weights->get(p + ".weight_format").numel(), 1);
  EXPECT_EQ(*data_of<uint8_t>(q.weights->get(p + ".weight_format")), 0);
  const io::ModelSource base = io::open_model(test::bundled_model());
  const std::vector<float> w = to_f32(base.weights->get(p + ".weight"));
  const quant::Int8Weight r = read_bnb_int8(*q.weights, p);
  for (int64_t row = 0; row < r.rows; ++row) {  // SCB is the row absmax; codes round half to even
    float m = 0;
    for (int64_t c = 0; c < r.cols; ++c) m = std::max(m, std::fabs(w[row * r.cols + c]));
    EXPECT_EQ(r.scb[row], m);
    for (int64_t c = 0; c < r.cols; c += 37)
      EXPECT_EQ(r.cb[row * r.cols + c], int8_t(std::nearbyint(w[row * r.cols + c] * (127.0f / m))));
  }
}

// A store with one 4-bit linear of 2 x 64 (NF4, no DQ), to break piece by piece.
struct Broken {
  io::WeightStore store;
  void add(const std::string& name, DType t, std::vector<int64_t> shape, std::vector<uint8_t> bytes) {
    store.add_owned(name, t, std::move(shape), std::move(bytes));
  }
  static std::vector<uint8_t> text(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(BnbCheckpoint, BrokenCheckpointsAreCleanErrors) {
  const std::string p = "model.layers.0.mlp.up_proj", w = p + ".weight";
  const std::string good_state = "{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [2, 64]}";
  auto make = [&](const std::string& state, int64_t absmax_count, bool with_map, const std::string& key) {
    auto b = std::make_unique<Broken>();
    b->add(w, DType::U8, {64, 1}, std::vector<uint8_t>(64, 0x77));
    b->add(w + ".absmax", DType::F32, {absmax_count}, std::vector<uint8_t>(size_t(4 * absmax_count), 0));
    if (with_map) b->add(w + ".quant_map", DType::F32, {16}, std::vector<uint8_t>(64, 0));
    b->add(w + ".quant_state.bitsandbytes__" + key, DType::U8, {int64_t(state.size())}, Broken::text(state));
    return b;
  };
  EXPECT_EQ(error_of([&] { read_bnb_4bit(make(good_state, 2, true, "nf4")->store, p); }), "");
  EXPECT_NE(error_of([&] { read_bnb_4bit(make(good_state, 3, true, "nf4")->store, p); }).find("absmax"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_bnb_4bit(make(good_state, 2, false, "nf4")->store, p); }).find("quant_map"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_bnb_4bit(make("{\"quant_type\": ", 2, true, "nf4")->store, p); }).find("JSON"),
            std::string::npos);
  EXPECT_NE(error_of([&] { read_bnb_4bit(make(good_state, 2, true, "fp4")->store, p); }).find("quant_type"),
            std::string::npos);
  std::string bad = good_state;
  bad.replace(bad.find("64,"), 2, "128");
  EXPECT_NE(error_of([&] { read_bnb_4bit(make(bad, 2, true, "nf4")->store, p); }).find("blocksize"),
            std::string::npos);
  bad = good_state;
  bad.replace(bad.find("[2, 64]"), 7, "[4, 64]");
  EXPECT_NE(error_of([&] { read_bnb_4bit(make(bad, 2, true, "nf4")->store, p); }).find("bytes of codes"),
            std::string::npos);
  auto both = make(good_state, 2, true, "nf4");
  both->add(w + ".quant_state.bitsandbytes__fp4", DType::U8, {1}, {'{'});
  EXPECT_NE(error_of([&] { read_bnb_4bit(both->store, p); }).find("both"), std::string::npos);
  // Double quant without its nested tensors.
  auto dq = make(good_state.substr(0, good_state.size() - 1) + ", \"nested_offset\": 0.5}", 2, true, "nf4");
  dq->add(w + ".nested_absmax", DType::F32, {1}, std::vector<uint8_t>(4, 0));
  EXPECT_NE(error_of([&] { read_bnb_4bit(dq->store, p); }).find("absmax"), std::string::npos);

  Broken i8;
  i8.add(w, DType::I8, {2, 3}, std::vector<uint8_t>(6, 1));
  EXPECT_NE(error_of([&] { read_bnb_int8(i8.store, p); }).find("SCB"), std::string::npos);
  i8.add(p + ".SCB", DType::F32, {2}, std::vector<uint8_t>(8, 0));
  EXPECT_EQ(error_of([&] { read_bnb_int8(i8.store, p); }), "");
  i8.add(p + ".weight_format", DType::U8, {}, {2});
  EXPECT_NE(error_of([&] { read_bnb_int8(i8.store, p); }).find("row-major"), std::string::npos);
}

TEST(BnbCheckpoint, CliRefusesBadCombinations) {
  std::string log;
  const std::string run = test::cli_path() + " ppl -m " + test::bundled_model() + " -f " +
                          test::testdata("kjv/eval.txt") + " --max-windows 1 --ctx 16 ";
  EXPECT_NE(test::run_command(run + "--load-in-8bit --load-in-4bit", &log), 0);
  EXPECT_NE(log.find("exclude"), std::string::npos) << log;
  EXPECT_NE(test::run_command(run + "--double-quant", &log), 0);
  EXPECT_NE(log.find("--load-in-4bit"), std::string::npos) << log;
  EXPECT_NE(test::run_command(run + "--load-in-4bit --bnb-4bit-quant-type int2", &log), 0);
  EXPECT_EQ(test::run_command(run + "--load-in-4bit --bnb-4bit-quant-type fp4 --double-quant", &log), 0) << log;
}

}  // namespace
}  // namespace nibble::formats
