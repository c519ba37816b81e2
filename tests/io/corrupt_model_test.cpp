// Hundreds of damaged copies of the bundled model's files, each fed to the
// loader: every one must end in a nibble::Error naming the problem — never a
// crash, another exception type, or a model that loads anyway.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "core/files.h"
#include "io/model_source.h"
#include "model/llama.h"
#include "test_paths.h"

namespace nibble {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Original {
  std::string config, safetensors, header;
  uint64_t header_len = 0;
};

const Original& original() {
  static const Original o = [] {
    Original o;
    o.config = read_text_file(test::bundled_model() + "/config.json");
    o.safetensors = read_text_file(test::bundled_model() + "/model.safetensors");
    std::memcpy(&o.header_len, o.safetensors.data(), 8);
    o.header = o.safetensors.substr(8, o.header_len);
    return o;
  }();
  return o;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

// A model directory with the given config.json and model.safetensors bytes.
std::string make_model_dir(const std::string& config, const std::string& safetensors) {
  const std::string dir = test::temp_dir("corrupt");
  write_file(dir + "/config.json", config);
  write_file(dir + "/model.safetensors", safetensors);
  return dir;
}

std::string with_header(const std::string& header) {
  const Original& o = original();
  std::string out(8, '\0');
  const uint64_t len = header.size();
  std::memcpy(out.data(), &len, 8);
  return out + header + o.safetensors.substr(8 + o.header_len);
}

// Loads like `nibble generate` does; returns the error text, or "" if it loaded.
std::string load_error(const std::string& dir) {
  try {
    io::ModelSource src = io::open_model(dir);
    model::LlamaModel m(src.config, src.weights);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

struct Variant {
  std::string name, config, safetensors;
};

std::vector<Variant> variants() {
  const Original& o = original();
  std::vector<Variant> v;
  auto add = [&](std::string name, std::string config, std::string st) {
    v.push_back({std::move(name), std::move(config), std::move(st)});
  };
  std::mt19937 rng(1234);

  // Truncated safetensors: inside the length field, the header and the data.
  for (size_t n : {0, 1, 4, 7, 8, 9}) add("truncated at " + std::to_string(n), o.config, o.safetensors.substr(0, n));
  for (int i = 1; i <= 24; ++i) {
    const size_t n = 8 + o.header_len * i / 25;
    add("truncated in header at " + std::to_string(n), o.config, o.safetensors.substr(0, n));
  }
  for (int i = 0; i < 24; ++i) {
    const size_t data = o.safetensors.size() - 8 - o.header_len;
    const size_t n = 8 + o.header_len + data * i / 24 + (i == 0 ? 0 : 1);
    add("truncated in data at " + std::to_string(n), o.config, o.safetensors.substr(0, n));
  }

  // Header length field: past the end, zero, off by one.
  for (uint64_t len : {uint64_t(0), uint64_t(1), o.header_len - 1, o.header_len + 1,
                       uint64_t(o.safetensors.size()), ~uint64_t(0), uint64_t(1) << 62}) {
    std::string st = o.safetensors;
    std::memcpy(st.data(), &len, 8);
    add("header length " + std::to_string(len), o.config, st);
  }

  // Single bytes of the JSON header replaced. Only bytes outside
  // __metadata__ (whose values are free text) are hit.
  const size_t meta = o.header.find("\"__metadata__\"");
  const size_t meta_end = meta == std::string::npos ? meta : o.header.find('}', meta);
  const std::string replacements = "{}[]\":,0123456789-.eaxZ ";
  int flips = 0;
  while (flips < 110) {
    const size_t pos = rng() % o.header.size();
    if (meta != std::string::npos && pos >= meta && pos <= meta_end) continue;
    const char c = replacements[rng() % replacements.size()];
    if (c == o.header[pos]) continue;
    // A space next to JSON punctuation is insignificant; skip those no-ops.
    if (c == ' ' && std::strchr("{}[]\":,", o.header[pos])) continue;
    std::string h = o.header;
    h[pos] = c;
    add("header byte " + std::to_string(pos) + " -> '" + c + "'", o.config, with_header(h));
    ++flips;
  }

  // Structurally valid headers with wrong contents.
  const json header = json::parse(o.header);
  const std::string some = "model.layers.1.mlp.up_proj.weight";
  const std::string other = "model.layers.2.self_attn.q_proj.weight";
  auto edit = [&](const std::string& name, const std::function<void(json&)>& f) {
    json h = header;
    f(h);
    add(name, o.config, with_header(h.dump()));
  };
  edit("tensors overlap", [&](json& h) { h[other]["data_offsets"] = h[some]["data_offsets"]; });
  edit("offsets past the end", [&](json& h) {
    h[some]["data_offsets"] = {uint64_t(1) << 40, (uint64_t(1) << 40) + 393216};
  });
  edit("offsets reversed", [&](json& h) {
    auto o2 = h[some]["data_offsets"];
    h[some]["data_offsets"] = {o2[1], o2[0]};
  });
  edit("offsets negative", [&](json& h) { h[some]["data_offsets"][0] = -2; });
  edit("offsets not numbers", [&](json& h) { h[some]["data_offsets"] = {"a", "b"}; });
  edit("offsets wrong arity", [&](json& h) { h[some]["data_offsets"] = {0}; });
  edit("dtype F32 (size mismatch)", [&](json& h) { h[some]["dtype"] = "F32"; });
  edit("dtype unknown", [&](json& h) { h[some]["dtype"] = "Q4"; });
  edit("dtype I32 (not a float)", [&](json& h) {
    h[some]["dtype"] = "I16";  // same size as BF16: loads, but is no float type
  });
  edit("dtype missing", [&](json& h) { h[some].erase("dtype"); });
  edit("shape missing", [&](json& h) { h[some].erase("shape"); });
  edit("shape negative", [&](json& h) { h[some]["shape"] = {-768, -256}; });
  edit("shape float", [&](json& h) { h[some]["shape"] = {768.5, 256}; });
  edit("shape transposed", [&](json& h) { h[some]["shape"] = {256, 768}; });
  edit("shape 3d", [&](json& h) { h[some]["shape"] = {768, 256, 1}; });
  edit("shape huge", [&](json& h) { h[some]["shape"] = {uint64_t(1) << 40, uint64_t(1) << 40}; });
  edit("tensor missing", [&](json& h) { h.erase(some); });
  edit("norm missing", [&](json& h) { h.erase("model.norm.weight"); });
  edit("embedding missing", [&](json& h) { h.erase("model.embed_tokens.weight"); });
  edit("entry not an object", [&](json& h) { h[some] = 5; });
  edit("header an array", [&](json& h) { h = json::array({1, 2}); });
  edit("metadata not strings", [&](json& h) { h["__metadata__"] = {{"format", 1}}; });
  edit("norm wrong length", [&](json& h) {
    h["model.norm.weight"]["shape"] = {128};
    auto d = h["model.norm.weight"]["data_offsets"];
    h["model.norm.weight"]["data_offsets"] = {d[0], d[0].get<uint64_t>() + 256};
  });

  // config.json: invalid JSON, missing and wrong fields, inconsistent sizes.
  const json config = json::parse(o.config);
  for (int i = 1; i <= 10; ++i)
    add("config truncated " + std::to_string(i), o.config.substr(0, o.config.size() * i / 11),
        o.safetensors);
  add("config empty", "", o.safetensors);
  add("config not an object", "[1, 2, 3]", o.safetensors);
  add("config binary", std::string("\x00\xff\xfe{", 4), o.safetensors);
  auto edit_config = [&](const std::string& name, const std::function<void(json&)>& f) {
    json c = config;
    f(c);
    add(name, c.dump(), o.safetensors);
  };
  for (const char* field : {"model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads", "vocab_size"})
    edit_config(std::string("config without ") + field, [&](json& c) { c.erase(field); });
  for (const char* field : {"hidden_size", "intermediate_size", "num_hidden_layers",
                            "num_attention_heads", "num_key_value_heads", "vocab_size", "head_dim"}) {
    edit_config(std::string(field) + " zero", [&](json& c) { c[field] = 0; });
    edit_config(std::string(field) + " negative", [&](json& c) { c[field] = -4; });
    edit_config(std::string(field) + " a string", [&](json& c) { c[field] = "256"; });
    edit_config(std::string(field) + " huge", [&](json& c) { c[field] = int64_t(1) << 40; });
    edit_config(std::string(field) + " doubled", [&](json& c) { c[field] = c[field].get<int>() * 2; });
  }
  edit_config("model_type unknown", [&](json& c) { c["model_type"] = "gpt_neox"; });
  edit_config("model_type number", [&](json& c) { c["model_type"] = 7; });
  edit_config("kv heads not dividing heads", [&](json& c) { c["num_key_value_heads"] = 3; });
  edit_config("rope_scaling unknown", [&](json& c) { c["rope_scaling"] = {{"type", "yarn"}, {"factor", 4}}; });
  edit_config("rope_scaling not an object", [&](json& c) { c["rope_scaling"] = "llama3"; });
  edit_config("rope_theta negative", [&](json& c) { c["rope_theta"] = -1; });
  edit_config("rms_norm_eps a string", [&](json& c) { c["rms_norm_eps"] = "1e-5"; });
  edit_config("hidden_act gelu", [&](json& c) { c["hidden_act"] = "gelu"; });
  edit_config("tie_word_embeddings a string", [&](json& c) { c["tie_word_embeddings"] = "no"; });
  edit_config("qkv biases missing", [&](json& c) { c["attention_bias"] = true; });
  return v;
}

TEST(CorruptModel, EveryVariantEndsInACleanError) {
  const std::vector<Variant> all = variants();
  ASSERT_GE(all.size(), 200u);
  for (const Variant& v : all) {
    const std::string dir = make_model_dir(v.config, v.safetensors);
    std::string error;
    try {
      error = load_error(dir);
    } catch (const std::exception& e) {
      ADD_FAILURE() << v.name << ": threw a non-nibble exception: " << e.what();
      continue;
    }
    EXPECT_FALSE(error.empty()) << v.name << ": loaded without an error";
    EXPECT_EQ(error.find('\n'), std::string::npos) << v.name << ": error is not one line";
    fs::remove_all(dir);
  }
}

TEST(CorruptModel, ErrorsNameTheFileAndTheProblem) {
  const Original& o = original();
  json h = json::parse(o.header);
  h["model.layers.1.mlp.up_proj.weight"]["shape"] = {256, 768};
  const std::string dir = make_model_dir(o.config, with_header(h.dump()));
  const std::string error = load_error(dir);
  EXPECT_NE(error.find("model.safetensors"), std::string::npos) << error;
  EXPECT_NE(error.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << error;
  EXPECT_NE(error.find("shape"), std::string::npos) << error;
}

TEST(CorruptModel, CommandLineExitsWithOneErrorLine) {
  const Original& o = original();
  for (const std::string& config : {std::string("{bad json"), o.config}) {
    const std::string dir = make_model_dir(config, o.safetensors.substr(0, 1000));
    std::string out;
    const int status = test::run_command(test::cli_path() + " generate -m " + dir + " -p hi -n 2", &out);
    EXPECT_EQ(status, 1) << out;
    EXPECT_EQ(out.rfind("error: ", 0), 0u) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
}

TEST(CorruptModel, MissingDirectoryAndFiles) {
  EXPECT_THROW(io::open_model("/nonexistent/model"), Error);
  const std::string dir = test::temp_dir("empty");
  EXPECT_THROW(io::open_model(dir), Error);  // no config.json
  write_file(dir + "/config.json", original().config);
  EXPECT_THROW(io::open_model(dir), Error);  // no weights
}

TEST(CorruptModel, ShardedIndexProblems) {
  const Original& o = original();
  auto with_index = [&](const std::string& index) {
    const std::string dir = test::temp_dir("sharded");
    write_file(dir + "/config.json", o.config);
    write_file(dir + "/model-00001-of-00001.safetensors", o.safetensors);
    write_file(dir + "/model.safetensors.index.json", index);
    return dir;
  };
  json weight_map;
  const json header = json::parse(o.header);
  for (auto& [name, _] : header.items())
    if (name != "__metadata__") weight_map[name] = "model-00001-of-00001.safetensors";
  json good = {{"metadata", json::object()}, {"weight_map", weight_map}};
  EXPECT_EQ(load_error(with_index(good.dump())), "");
  json missing = good;
  missing["weight_map"]["model.norm.weight"] = "model-00002-of-00002.safetensors";
  EXPECT_NE(load_error(with_index(missing.dump())), "");
  json escape = good;
  escape["weight_map"]["model.norm.weight"] = "../model.safetensors";
  EXPECT_NE(load_error(with_index(escape.dump())), "");
  json ghost = good;
  ghost["weight_map"]["model.ghost.weight"] = "model-00001-of-00001.safetensors";
  EXPECT_NE(load_error(with_index(ghost.dump())), "");
  EXPECT_NE(load_error(with_index("{\"weight_map\": 3}")), "");
  EXPECT_NE(load_error(with_index("not json")), "");
}

}  // namespace
}  // namespace nibble
