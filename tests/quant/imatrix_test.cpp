// nibble imatrix: the per-column mean of x² of each linear's input, checked
// against the same statistic computed here from the embeddings (layer 0:
// the q/k/v input is rmsnorm(embedding)) and from the float layer runner
// (layer 1: the pipeline must keep float weights, not quantize them); the
// legacy .dat layout read byte by byte; round trips through both file
// formats; and corrupt files.
#include "quant/imatrix.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/files.h"
#include "io/model_source.h"
#include "quant/calibration.h"
#include "quant/calibration_layer.h"
#include "test_paths.h"
#include "tokenizer/load_tokenizer.h"

namespace nibble::quant {
namespace {

struct Fixture {
  io::ModelSource src = io::open_model(test::bundled_model());
  std::vector<std::vector<int>> windows;
  Imatrix m;
  Fixture() {
    const auto tok = tokenizer::load_tokenizer(src);
    windows = load_calibration({test::testdata("kjv/calib.txt"), 4, 64, 7}, *tok, 512, src.config.vocab_size).samples;
    m = compute_imatrix(src, windows);
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, const std::string& what,
                  double relative = 1e-4) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], relative * want[i] + 1e-7) << what << " col " << i;
}

TEST(Imatrix, LayerZeroQkvInputIsRmsnormOfEmbeddings) {
  const Fixture& f = fixture();
  const io::ModelConfig& c = f.src.config;
  const int64_t h = c.hidden_size;
  const TensorView& emb = f.src.weights->get("model.embed_tokens.weight");
  std::vector<float> norm(static_cast<size_t>(h)), x(static_cast<size_t>(h));
  const TensorView& nw = f.src.weights->get("model.layers.0.input_layernorm.weight");
  convert_to_f32(nw.dtype, nw.data, norm.data(), norm.size());
  std::vector<double> sum(static_cast<size_t>(h), 0.0);
  int64_t tokens = 0;
  for (const auto& w : f.windows)
    for (int id : w) {
      convert_to_f32(emb.dtype, static_cast<const uint8_t*>(emb.data) + id * h * dtype_size(emb.dtype), x.data(),
                     x.size());
      double ss = 0;
      for (float v : x) ss += double(v) * v;
      const double inv_rms = 1.0 / std::sqrt(ss / double(h) + c.rms_norm_eps);
      for (int64_t j = 0; j < h; ++j) {
        const double xn = x[j] * inv_rms * norm[j];
        sum[j] += xn * xn;
      }
      ++tokens;
    }
  EXPECT_EQ(f.m.tokens, tokens);
  for (double& s : sum) s /= double(tokens);
  for (const char* t : {"attn_q", "attn_k", "attn_v"})
    expect_close(f.m.mean_squares.at(std::string("blk.0.") + t + ".weight"), sum, t);
}

TEST(Imatrix, LaterLayersSeeTheFloatModel) {
  const Fixture& f = fixture();
  const io::ModelConfig& c = f.src.config;
  const int64_t h = c.hidden_size, T = static_cast<int64_t>(f.windows[0].size());
  ASSERT_EQ(f.m.mean_squares.size(), size_t(7 * c.num_layers));
  CalibrationLayer layer0(c, *f.src.weights, 0), layer1(c, *f.src.weights, 1);
  const TensorView& emb = f.src.weights->get("model.embed_tokens.weight");
  std::vector<double> sum(static_cast<size_t>(h), 0.0);
  for (const auto& w : f.windows) {
    std::vector<float> x(size_t(T * h)), xn(size_t(T * h)), att(size_t(T * c.q_dim())),
        act(size_t(T * c.intermediate_size));
    for (int64_t t = 0; t < T; ++t)
      convert_to_f32(emb.dtype, static_cast<const uint8_t*>(emb.data) + w[t] * h * dtype_size(emb.dtype),
                     &x[t * h], size_t(h));
    layer0.attn_input(x.data(), T, xn.data());
    layer0.attention(xn.data(), T, att.data());
    layer0.add_attn_output(att.data(), T, x.data());
    layer0.mlp_input(x.data(), T, xn.data());
    layer0.mlp_hidden(xn.data(), T, act.data());
    layer0.add_mlp_output(act.data(), T, x.data());
    layer1.attn_input(x.data(), T, xn.data());
    for (int64_t t = 0; t < T; ++t)
      for (int64_t j = 0; j < h; ++j) sum[j] += double(xn[t * h + j]) * xn[t * h + j];
  }
  for (double& s : sum) s /= double(f.m.tokens);
  // The pipeline carries down_proj's inputs to the layer output in bf16
  // (relative rounding 2^-9), hence a looser match after layer 0; inputs of
  // a quantized layer 0 would differ by percents.
  expect_close(f.m.mean_squares.at("blk.1.attn_q.weight"), sum, "blk.1.attn_q", 1e-3);
  EXPECT_EQ(f.m.mean_squares.at("blk.3.ffn_down.weight").size(), size_t(c.intermediate_size));
  EXPECT_EQ(f.m.mean_squares.at("blk.2.attn_output.weight").size(), size_t(c.q_dim()));
}

int32_t int_at(const std::string& bytes, size_t& pos) {
  int32_t v;
  std::memcpy(&v, bytes.data() + pos, 4);
  pos += 4;
  return v;
}

TEST(Imatrix, LegacyFileLayoutAndRoundTrips) {
  const Fixture& f = fixture();
  Imatrix m = f.m;
  m.dataset = "kjv/calib.txt";
  const std::string dir = test::temp_dir("imatrix");
  write_imatrix(dir + "/imatrix.dat", m);
  // The layout, read here byte by byte: sorted names, ncall = chunks, values = mean · ncall.
  const std::string bytes = read_text_file(dir + "/imatrix.dat");
  size_t pos = 0;
  ASSERT_EQ(int_at(bytes, pos), int32_t(m.mean_squares.size()));
  for (const auto& [name, mean] : m.mean_squares) {
    const int32_t len = int_at(bytes, pos);
    ASSERT_EQ(bytes.substr(pos, size_t(len)), name);
    pos += size_t(len);
    const int32_t ncall = int_at(bytes, pos);
    EXPECT_EQ(ncall, 4);
    ASSERT_EQ(int_at(bytes, pos), int32_t(mean.size()));
    for (float v : mean) {
      float stored;
      std::memcpy(&stored, bytes.data() + pos, 4);
      pos += 4;
      EXPECT_FLOAT_EQ(stored, v * 4.0f);
    }
  }
  EXPECT_EQ(int_at(bytes, pos), 4);
  const int32_t len = int_at(bytes, pos);
  EXPECT_EQ(bytes.substr(pos), m.dataset);
  EXPECT_EQ(size_t(len), m.dataset.size());

  for (const std::string name : {"imatrix.dat", "imatrix.gguf"}) {
    write_imatrix(dir + "/" + name, m);
    const auto back = read_imatrix(dir + "/" + name);
    ASSERT_EQ(back.size(), m.mean_squares.size()) << name;
    for (const auto& [tensor, mean] : m.mean_squares) {
      const auto& got = back.at(tensor);
      ASSERT_EQ(got.size(), mean.size());
      for (size_t i = 0; i < mean.size(); ++i) EXPECT_NEAR(got[i], mean[i], 1e-6 * mean[i]) << name << " " << tensor;
    }
  }
}

TEST(Imatrix, CorruptFilesAreErrors) {
  const std::string dir = test::temp_dir("imatrix-bad");
  const auto expect_error = [&](const std::string& bytes, const std::string& fragment) {
    write_text_file_atomically(dir + "/bad.dat", bytes);
    try {
      read_imatrix(dir + "/bad.dat");
      ADD_FAILURE() << "no error; expected one containing \"" << fragment << "\"";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  const auto i32 = [](int32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); };
  const std::string name = "blk.0.attn_q.weight";
  const std::string good = i32(1) + i32(int32_t(name.size())) + name + i32(2) + i32(2) + std::string(8, '\0');
  write_text_file_atomically(dir + "/good.dat", good);
  EXPECT_EQ(read_imatrix(dir + "/good.dat").at(name).size(), 2u);
  expect_error("", "truncated");
  expect_error(i32(0), "entry count 0");
  expect_error(i32(1 << 30) + good.substr(4), "entry count");
  expect_error(good.substr(0, good.size() - 3), "more than the file holds");
  expect_error(good.substr(0, 30), "truncated");
  expect_error(i32(1) + i32(-5) + name, "name length of -5");
  expect_error(i32(1) + i32(int32_t(name.size())) + name + i32(-1) + i32(2) + std::string(8, '\0'), "ncall -1");
  expect_error(i32(1) + i32(int32_t(name.size())) + name + i32(2) + i32(1 << 28) + std::string(8, '\0'),
               "more than the file holds");
  expect_error(i32(2) + good.substr(4) + good.substr(4), "repeats a name");
}

}  // namespace
}  // namespace nibble::quant
