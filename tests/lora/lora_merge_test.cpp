// LoRA merging: the test writes a random PEFT adapter for the bundled model
// (adapter_config.json + adapter_model.safetensors, PEFT's key layout),
// merges it with `nibble merge-lora`, and compares the merged model's
// logits with the base model running the adapter unmerged,
// y = W x + (alpha / r) · B (A x), computed here. Then nf4 quantization of
// an adapter-merged model, and mismatched adapters.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "io/model_source.h"
#include "io/safetensors.h"
#include "lora/peft_adapter.h"
#include "lora/test_adapter.h"
#include "model/llama.h"
#include "quant/bnb_codes.h"
#include "test_paths.h"

namespace nibble::lora {
namespace {

using namespace test_adapter;

// The base linear plus the adapter's side branch, unmerged.
class UnmergedLoraLinear : public model::Linear {
 public:
  UnmergedLoraLinear(std::unique_ptr<model::Linear> base, const LoraTensors* lora, double scaling)
      : Linear(base->in_features(), base->out_features()), base_(std::move(base)), lora_(lora), scaling_(scaling) {}
  std::string format() const override { return "lora"; }
  size_t weight_bytes() const override { return 0; }

 protected:
  void multiply(const float* X, int64_t n, float* Y) const override {
    base_->forward(X, n, Y);
    if (!lora_) return;
    const int64_t in = in_features(), out = out_features();
    for (int64_t t = 0; t < n; ++t) {
      double ax[kRank] = {};
      for (int k = 0; k < kRank; ++k)
        for (int64_t i = 0; i < in; ++i) ax[k] += double(lora_->A[k * in + i]) * X[t * in + i];
      for (int64_t o = 0; o < out; ++o) {
        double bax = 0;
        for (int k = 0; k < kRank; ++k) bax += double(lora_->B[o * kRank + k]) * ax[k];
        Y[t * out + o] += float(scaling_ * bax);
      }
    }
  }

 private:
  std::unique_ptr<model::Linear> base_;
  const LoraTensors* lora_;
  double scaling_;
};

std::vector<float> logits(const io::ModelSource& s, const model::LinearLoader& loader) {
  const std::vector<int> tokens = {1, 17, 230, 5, 611, 42, 9, 1000};
  model::LlamaModel m(s.config, s.weights, loader);
  model::KVCache cache(s.config, 1, 16);
  std::vector<model::BatchToken> batch;
  for (size_t i = 0; i < tokens.size(); ++i) batch.push_back({tokens[i], int(i), 0, true});
  std::vector<float> out(tokens.size() * size_t(s.config.vocab_size));
  m.forward(batch, cache, out.data());
  return out;
}

double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return diff / scale;
}

TEST(LoraMerge, MergedLogitsEqualTheUnmergedAdapter) {
  const io::ModelSource base = io::open_model(test::bundled_model());
  const std::string dir = test::temp_dir("lora");
  const auto modules = write_adapter(dir + "/adapter", adapter_config(), base, 1);
  std::string log;
  ASSERT_EQ(test::run_command(test::cli_path() + " merge-lora -m " + test::bundled_model() + " --adapter " +
                                  dir + "/adapter -o " + dir + "/merged --dtype f32",
                              &log),
            0)
      << log;
  const io::ModelSource merged = io::open_model(dir + "/merged");
  EXPECT_EQ(merged.weights->get("model.layers.0.self_attn.q_proj.weight").dtype, DType::F32);
  EXPECT_EQ(merged.weights->get("model.layers.0.self_attn.k_proj.weight").dtype, DType::BF16);  // untouched

  const std::vector<float> base_logits = logits(base, model::load_dense_linear);
  const std::vector<float> expected = logits(base, [&](const io::WeightStore& s, const std::string& prefix,
                                                       int64_t in, int64_t out) -> std::unique_ptr<model::Linear> {
    auto it = modules.find(prefix);
    return std::make_unique<UnmergedLoraLinear>(model::load_dense_linear(s, prefix, in, out),
                                                it == modules.end() ? nullptr : &it->second, kAlpha / kRank);
  });
  ASSERT_GT(relative_difference(base_logits, expected), 1e-2);  // the adapter matters
  EXPECT_LT(relative_difference(logits(merged, model::load_dense_linear), expected), 1e-4);

  // The default BF16 merge rounds each merged weight once.
  ASSERT_EQ(test::run_command(test::cli_path() + " merge-lora -m " + test::bundled_model() + " --adapter " +
                                  dir + "/adapter -o " + dir + "/merged16",
                              &log),
            0)
      << log;
  const io::ModelSource merged16 = io::open_model(dir + "/merged16");
  EXPECT_EQ(merged16.weights->get("model.layers.0.self_attn.q_proj.weight").dtype, DType::BF16);
  EXPECT_LT(relative_difference(logits(merged16, model::load_dense_linear), expected), 2e-2);
  // An existing output is refused.
  EXPECT_NE(test::run_command(test::cli_path() + " merge-lora -m " + test::bundled_model() + " --adapter " +
                                  dir + "/adapter -o " + dir + "/merged16", &log), 0);
}

TEST(LoraMerge, ScalingRegexAndRsLora) {
  const io::ModelSource base = io::open_model(test::bundled_model());
  const std::string dir = test::temp_dir("lora-cfg");
  json c = adapter_config();
  c["target_modules"] = ".*\\.(q_proj|v_proj|down_proj)";
  c["use_rslora"] = true;
  write_adapter(dir, c, base, 2);
  const PeftAdapter a(dir);
  EXPECT_DOUBLE_EQ(a.config().scaling(), kAlpha / std::sqrt(double(kRank)));
  EXPECT_TRUE(a.targets("model.layers.0.self_attn.q_proj"));
  EXPECT_FALSE(a.targets("model.layers.0.self_attn.k_proj"));
  EXPECT_NO_THROW(a.check_against(*base.weights));
  // merge_into adds scaling · B A: check one entry by hand.
  const TensorView& v = base.weights->get("model.layers.2.mlp.down_proj.weight");
  std::vector<float> w(static_cast<size_t>(v.numel()), 0.0f);
  a.merge_into("model.layers.2.mlp.down_proj", w.data(), v.dim(0), v.dim(1));
  const LoraPair* p = a.find("model.layers.2.mlp.down_proj");
  const float* A = static_cast<const float*>(p->A->data);
  const float* B = static_cast<const float*>(p->B->data);
  double expected = 0;
  for (int k = 0; k < kRank; ++k) expected += double(B[5 * kRank + k]) * A[k * v.dim(1) + 9];
  EXPECT_NEAR(w[5 * v.dim(1) + 9], expected * a.config().scaling(), 1e-6);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(LoraMerge, MismatchedAdaptersAreCleanErrors) {
  const io::ModelSource base = io::open_model(test::bundled_model());
  const std::string root = test::temp_dir("lora-bad");
  int case_id = 0;
  auto check = [&](json config, const std::function<void(const std::string&)>& tamper, const std::string& needle) {
    const std::string dir = root + "/" + std::to_string(case_id++);
    write_adapter(dir, config, base, 3);
    if (tamper) tamper(dir);
    const std::string e = error_of([&] { PeftAdapter(dir).check_against(*base.weights); });
    EXPECT_NE(e.find(needle), std::string::npos) << "case " << case_id << ": '" << e << "'";
  };
  json c = adapter_config();
  c["target_modules"] = {"q_proj", "down_proj"};  // the file also has v_proj weights
  check(c, nullptr, "target_modules does not select");
  c = adapter_config();
  c["target_modules"] = {"q_proj", "v_proj", "down_proj", "k_proj"};  // k_proj has no weights
  check(c, nullptr, "no weights for it");
  c = adapter_config();
  c["r"] = 8;
  check(c, nullptr, "rank");
  c = adapter_config();
  c.erase("target_modules");
  check(c, nullptr, "target_modules");
  c = adapter_config();
  c["use_dora"] = true;
  check(c, nullptr, "DoRA");
  auto rewrite = [&](const std::string& dir, const std::function<void(io::SafetensorsWriter&, const io::SafetensorsFile&)>& edit) {
    io::SafetensorsWriter w;
    {
      io::SafetensorsFile f(dir + "/adapter_model.safetensors");
      edit(w, f);
      w.write(dir + "/adapter_model.safetensors.new");
    }
    std::filesystem::rename(dir + "/adapter_model.safetensors.new", dir + "/adapter_model.safetensors");
  };
  // A module the base does not have.
  check(adapter_config(), [&](const std::string& dir) {
    rewrite(dir, [](io::SafetensorsWriter& w, const io::SafetensorsFile& f) {
      for (const auto& [name, v] : f.tensors()) w.add_copy(name, v);
      const TensorView& a = f.tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
      const TensorView& b = f.tensor("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
      w.add_copy("base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight", a);
      w.add_copy("base_model.model.model.layers.9.self_attn.q_proj.lora_B.weight", b);
    });
  }, "does not have");
  // lora_A of the wrong width, and a missing lora_B.
  check(adapter_config(), [&](const std::string& dir) {
    rewrite(dir, [](io::SafetensorsWriter& w, const io::SafetensorsFile& f) {
      for (const auto& [name, v] : f.tensors()) {
        if (name == "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight")
          w.add(name, DType::F32, {kRank, 256}, std::vector<uint8_t>(size_t(kRank) * 256 * 4, 0));
        else
          w.add_copy(name, v);
      }
    });
  }, "expected [r, 768]");
  check(adapter_config(), [&](const std::string& dir) {
    rewrite(dir, [](io::SafetensorsWriter& w, const io::SafetensorsFile& f) {
      for (const auto& [name, v] : f.tensors())
        if (name != "base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight") w.add_copy(name, v);
    });
  }, "no lora_B");
  check(adapter_config(), [&](const std::string& dir) {
    write_text_file_atomically(dir + "/adapter_config.json", "{\"r\": 4,");
  }, "not valid JSON");
  check(adapter_config(), [&](const std::string& dir) {
    write_text_file_atomically(dir + "/adapter_model.safetensors", "garbage");
  }, "adapter_model.safetensors");
}

// nf4/fp4/int8 merge each tensor as it is read (GPTQ/RTN/AWQ: lora_quantize_test.cpp).
TEST(LoraMerge, QuantizeNf4WithAnAdapterQuantizesTheMergedWeights) {
  const io::ModelSource base = io::open_model(test::bundled_model());
  const std::string dir = test::temp_dir("lora-quant");
  write_adapter(dir + "/adapter", adapter_config(), base, 4);
  std::string log;
  ASSERT_EQ(test::run_command(test::cli_path() + " quantize -m " + test::bundled_model() + " --adapter " + dir +
                                  "/adapter -o " + dir + "/nf4 --method nf4",
                              &log),
            0)
      << log;
  // The nf4 checkpoint of the adapter-merged model is the merged weights' quantization.
  const io::ModelSource q = io::open_model(dir + "/nf4");
  const PeftAdapter adapter(dir + "/adapter");
  const std::string name = "model.layers.2.self_attn.v_proj.weight";
  const std::vector<float> w = merged_weight(*base.weights, adapter, name);
  const quant::FourBitWeight expected =
      quant::quantize_4bit(w.data(), base.weights->get(name).shape, quant::FourBitType::nf4, false);
  const TensorView& packed = q.weights->get(name);
  EXPECT_EQ(std::vector<uint8_t>(static_cast<const uint8_t*>(packed.data),
                                 static_cast<const uint8_t*>(packed.data) + packed.nbytes),
            expected.packed);
  EXPECT_NE(test::run_command(test::cli_path() + " quantize -m " + test::bundled_model() + " --adapter " + dir +
                                  "/missing -o " + dir + "/bad --method nf4", &log), 0);
  EXPECT_NE(log.find("adapter_config.json"), std::string::npos) << log;
}

}  // namespace
}  // namespace nibble::lora
