#include "io/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>

#include "core/error.h"
#include "core/files.h"
#include "test_paths.h"

namespace nibble::io {
namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = uint8_t(rng());
  return out;
}

TEST(GgmlTypes, TableMatchesSpec) {
  struct Row { uint32_t id; const char* name; int64_t block; uint64_t bytes; };
  const Row rows[] = {{0, "F32", 1, 4},       {1, "F16", 1, 2},       {2, "Q4_0", 32, 18},
                      {3, "Q4_1", 32, 20},    {6, "Q5_0", 32, 22},    {7, "Q5_1", 32, 24},
                      {8, "Q8_0", 32, 34},    {9, "Q8_1", 32, 36},    {10, "Q2_K", 256, 84},
                      {11, "Q3_K", 256, 110}, {12, "Q4_K", 256, 144}, {13, "Q5_K", 256, 176},
                      {14, "Q6_K", 256, 210}, {15, "Q8_K", 256, 292}, {20, "IQ4_NL", 32, 18},
                      {30, "BF16", 1, 2}};
  for (const Row& r : rows) {
    const GgmlTypeInfo* info = ggml_type_info(r.id);
    ASSERT_NE(info, nullptr) << r.name;
    EXPECT_STREQ(info->name, r.name);
    EXPECT_EQ(info->block_size, r.block) << r.name;
    EXPECT_EQ(info->type_size, r.bytes) << r.name;
  }
  for (uint32_t retired : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 99u, 0xFFFFFFFFu})
    EXPECT_EQ(ggml_type_info(retired), nullptr) << retired;
}

TEST(GgmlTypes, Nbytes) {
  const std::vector<int64_t> q4k = {512, 3};
  EXPECT_EQ(ggml_nbytes(GgmlType::Q4_K, q4k), 2u * 144 * 3);
  const std::vector<int64_t> f32 = {5, 7, 2};
  EXPECT_EQ(ggml_nbytes(GgmlType::F32, f32), 5u * 7 * 2 * 4);
  const std::vector<int64_t> bad_row = {100, 2};
  EXPECT_THROW(ggml_nbytes(GgmlType::Q8_0, bad_row), Error);
  const std::vector<int64_t> huge = {int64_t(1) << 62, 8};
  EXPECT_THROW(ggml_nbytes(GgmlType::F32, huge), Error);
  const std::vector<int64_t> zero = {32, 0};
  EXPECT_THROW(ggml_nbytes(GgmlType::Q8_0, zero), Error);
}

// shared/specs/gguf.md §1: the 192-byte test vector.
TEST(GgufWriter, MatchesSpecTestVector) {
  GgufWriter w;
  w.add("general.architecture", GgufValue::string("llama"));
  w.add("llama.block_count", GgufValue::uint32(1));
  const float a[2] = {1.0f, -2.0f};
  std::vector<uint8_t> bytes(8);
  std::memcpy(bytes.data(), a, 8);
  w.add_tensor("a", GgmlType::F32, {2, 1}, bytes);
  const std::string path = test::temp_dir("gguf-vector") + "/v.gguf";
  w.write(path);
  const std::vector<uint8_t> got = read_bytes(path);
  ASSERT_EQ(got.size(), 192u);
  EXPECT_EQ(w.file_size(), 192u);
  std::vector<uint8_t> want;
  auto put = [&](const void* p, size_t n) {
    want.insert(want.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  };
  auto u32 = [&](uint32_t v) { put(&v, 4); };
  auto u64 = [&](uint64_t v) { put(&v, 8); };
  put("GGUF", 4);
  u32(3);
  u64(1);
  u64(2);
  u64(20);
  put("general.architecture", 20);
  u32(8);
  u64(5);
  put("llama", 5);
  u64(17);
  put("llama.block_count", 17);
  u32(4);
  u32(1);
  u64(1);
  put("a", 1);
  u32(1);  // n_dims: trailing 1 dropped
  u64(2);
  u32(0);
  u64(0);
  ASSERT_EQ(want.size(), 0x87u);
  want.resize(0xa0, 0);
  put(a, 8);
  want.resize(0xc0, 0);
  EXPECT_EQ(got, want);
}

struct Built {
  std::string path;
  std::vector<std::pair<std::string, GgufValue>> metadata;
  struct T { std::string name; GgmlType type; std::vector<int64_t> ne; std::vector<uint8_t> bytes; };
  std::vector<T> tensors;
};

// A file with every metadata type and several tensor types and layouts.
Built build_everything(const std::string& dir, uint32_t alignment) {
  Built b;
  b.path = dir + "/everything.gguf";
  auto& m = b.metadata;
  m.emplace_back("general.architecture", GgufValue::string("llama"));
  m.emplace_back("t.u8", GgufValue::uint8(250));
  m.emplace_back("t.i8", GgufValue::int8(-120));
  m.emplace_back("t.u16", GgufValue::uint16(65000));
  m.emplace_back("t.i16", GgufValue::int16(-32000));
  m.emplace_back("t.u32", GgufValue::uint32(4000000000u));
  m.emplace_back("t.i32", GgufValue::int32(-2000000000));
  m.emplace_back("t.u64", GgufValue::uint64(18000000000000000000ull));
  m.emplace_back("t.i64", GgufValue::int64(-9000000000000000000ll));
  m.emplace_back("t.f32", GgufValue::float32(3.25f));
  m.emplace_back("t.f64", GgufValue::float64(-1e300));
  m.emplace_back("t.bool", GgufValue::boolean(true));
  m.emplace_back("t.bool_false", GgufValue::boolean(false));
  m.emplace_back("t.empty_string", GgufValue::string(""));
  m.emplace_back("t.utf8", GgufValue::string("na\xc3\xafve \xe2\x96\x81 \xe7\xbb\x99"));
  m.emplace_back("t.arr_u8", GgufValue::array(std::vector<uint8_t>{0, 1, 255}));
  m.emplace_back("t.arr_i8", GgufValue::array(std::vector<int8_t>{-128, 0, 127}));
  m.emplace_back("t.arr_u16", GgufValue::array(std::vector<uint16_t>{1, 65535}));
  m.emplace_back("t.arr_i16", GgufValue::array(std::vector<int16_t>{-32768, 32767}));
  m.emplace_back("t.arr_u32", GgufValue::array(std::vector<uint32_t>{7, 4294967295u}));
  m.emplace_back("t.arr_i32", GgufValue::array(std::vector<int32_t>{-5, 1, 2, 3}));
  m.emplace_back("t.arr_u64", GgufValue::array(std::vector<uint64_t>{1ull << 60}));
  m.emplace_back("t.arr_i64", GgufValue::array(std::vector<int64_t>{-(1ll << 60), 42}));
  m.emplace_back("t.arr_f32", GgufValue::array(std::vector<float>{0.5f, -0.0f, 1e-30f}));
  m.emplace_back("t.arr_f64", GgufValue::array(std::vector<double>{0.1, -2.5}));
  m.emplace_back("t.arr_bool", GgufValue::bool_array({true, false, true}));
  m.emplace_back("t.arr_empty", GgufValue::array(std::vector<float>{}));
  m.emplace_back("t.arr_str", GgufValue::string_array(std::vector<std::string>{"a", "", "\xe2\x96\x81The"}));
  m.emplace_back("t.nested",
                 GgufValue::array_of_arrays(
                     {GgufValue::array(std::vector<int32_t>{1, 2}),
                      GgufValue::string_array(std::vector<std::string>{"x", "yz"}),
                      GgufValue::array_of_arrays({GgufValue::array(std::vector<double>{9.5}),
                                                  GgufValue::array_of_arrays({})})}));

  auto add_tensor = [&](std::string name, GgmlType type, std::vector<int64_t> ne, uint32_t seed) {
    const size_t n = size_t(ggml_nbytes(type, ne));
    b.tensors.push_back({std::move(name), type, std::move(ne), random_bytes(n, seed)});
  };
  add_tensor("token_embd.weight", GgmlType::Q4_K, {256, 3}, 1);
  add_tensor("blk.0.attn_norm.weight", GgmlType::F32, {5}, 2);
  add_tensor("blk.0.attn_q.weight", GgmlType::Q8_0, {64, 2, 3}, 3);
  add_tensor("blk.0.ffn_up.weight", GgmlType::F16, {3, 2, 2, 2}, 4);
  add_tensor("blk.0.ffn_down.weight", GgmlType::BF16, {7, 1, 1}, 5);  // stored as ne=[7]
  add_tensor("output.weight", GgmlType::Q6_K, {256, 2}, 6);

  GgufWriter w;
  if (alignment != GgufFile::kDefaultAlignment) w.set_alignment(alignment);
  for (const auto& [k, v] : m) w.add(k, v);
  for (size_t i = 0; i < b.tensors.size(); ++i) {
    const auto& t = b.tensors[i];
    if (i % 3 == 0) {
      w.add_tensor(t.name, t.type, t.ne, t.bytes);
    } else if (i % 3 == 1) {
      w.add_tensor_view(t.name, t.type, t.ne, t.bytes);
    } else {
      // Stream in small, uneven chunks, as a quantizer would.
      w.add_tensor_streamed(t.name, t.type, t.ne, [&t](GgufDataSink& sink) {
        size_t pos = 0, chunk = 1;
        while (pos < t.bytes.size()) {
          const size_t n = std::min(chunk, t.bytes.size() - pos);
          sink.write(t.bytes.data() + pos, n);
          pos += n;
          chunk = chunk * 2 + 1;
        }
      });
    }
  }
  w.write(b.path);
  EXPECT_EQ(w.file_size(), read_bytes(b.path).size());
  if (alignment != GgufFile::kDefaultAlignment)
    b.metadata.insert(b.metadata.begin(), {"general.alignment", GgufValue::uint32(alignment)});
  for (auto& t : b.tensors)
    while (t.ne.size() > 1 && t.ne.back() == 1) t.ne.pop_back();
  return b;
}

void expect_matches(const GgufFile& f, const Built& b, uint32_t alignment) {
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), alignment);
  EXPECT_EQ(f.data_offset() % alignment, 0u);
  ASSERT_EQ(f.metadata().size(), b.metadata.size());
  for (size_t i = 0; i < b.metadata.size(); ++i) {
    EXPECT_EQ(f.metadata()[i].first, b.metadata[i].first);
    EXPECT_TRUE(f.metadata()[i].second == b.metadata[i].second)
        << b.metadata[i].first << ": " << f.metadata()[i].second.describe() << " vs "
        << b.metadata[i].second.describe();
  }
  ASSERT_EQ(f.tensors().size(), b.tensors.size());
  uint64_t expected_offset = 0;
  for (size_t i = 0; i < b.tensors.size(); ++i) {
    const GgufTensorInfo& t = f.tensors()[i];
    const auto& want = b.tensors[i];
    EXPECT_EQ(t.name, want.name);
    EXPECT_EQ(t.type, want.type) << t.name;
    EXPECT_EQ(t.ne, want.ne) << t.name;
    EXPECT_EQ(t.nbytes, want.bytes.size()) << t.name;
    EXPECT_EQ(t.offset % alignment, 0u) << t.name;
    EXPECT_EQ(t.offset, expected_offset) << t.name;  // contiguous, as llama.cpp requires
    expected_offset += (t.nbytes + alignment - 1) / alignment * alignment;
    EXPECT_EQ((f.data_offset() + t.offset) % alignment, 0u) << t.name;
    ASSERT_NE(t.data, nullptr);
    EXPECT_EQ(std::memcmp(t.data, want.bytes.data(), want.bytes.size()), 0) << t.name;
    EXPECT_EQ(&f.tensor(want.name), &t);
  }
  EXPECT_EQ(f.data_offset() + expected_offset, f.file_size());
}

TEST(Gguf, RoundTripsEveryTypeDefaultAlignment) {
  const Built b = build_everything(test::temp_dir("gguf-rt32"), 32);
  const GgufFile f(b.path);
  expect_matches(f, b, 32);
  EXPECT_FALSE(f.has("general.alignment"));
}

TEST(Gguf, RoundTripsEveryTypeWithAlignment) {
  for (uint32_t alignment : {1u, 8u, 64u, 4096u}) {
    SCOPED_TRACE(alignment);
    const Built b = build_everything(test::temp_dir("gguf-rt"), alignment);
    const GgufFile f(b.path);
    expect_matches(f, b, alignment);
    // The in-memory parser sees the same thing.
    const std::vector<uint8_t> bytes = read_bytes(b.path);
    const GgufFile g = GgufFile::from_memory(bytes.data(), bytes.size(), "mem");
    expect_matches(g, b, alignment);
  }
}

TEST(Gguf, TypedGetters) {
  const Built b = build_everything(test::temp_dir("gguf-get"), 32);
  const GgufFile f(b.path);
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_int("t.u8"), 250);
  EXPECT_EQ(f.get_int("t.i8"), -120);
  EXPECT_EQ(f.get_int("t.u32"), 4000000000ll);
  EXPECT_EQ(f.get_uint("t.u64"), 18000000000000000000ull);
  EXPECT_EQ(f.get_int("t.i64"), -9000000000000000000ll);
  EXPECT_EQ(f.get_float("t.f32"), 3.25);
  EXPECT_EQ(f.get_float("t.f64"), -1e300);
  EXPECT_TRUE(f.get_bool("t.bool"));
  EXPECT_FALSE(f.get_bool("t.bool_false"));
  EXPECT_EQ(f.get_ints("t.arr_i32"), (std::vector<int64_t>{-5, 1, 2, 3}));
  EXPECT_EQ(f.get_ints("t.arr_u32"), (std::vector<int64_t>{7, 4294967295ll}));
  EXPECT_EQ(f.get_floats("t.arr_f32"), (std::vector<double>{0.5, -0.0, double(1e-30f)}));
  EXPECT_EQ(f.get("t.arr_bool").as_bools(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(f.get_strings("t.arr_str"),
            (std::vector<std::string_view>{"a", "", "\xe2\x96\x81The"}));
  const auto& nested = f.get("t.nested").as_arrays();
  ASSERT_EQ(nested.size(), 3u);
  EXPECT_EQ(nested[0].as_ints(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(nested[1].as_strings()[1], "yz");
  EXPECT_EQ(nested[2].as_arrays()[0].as_floats(), (std::vector<double>{9.5}));
  EXPECT_EQ(nested[2].as_arrays()[1].size(), 0u);
  EXPECT_EQ(f.get("t.arr_empty").size(), 0u);
  EXPECT_EQ(f.get("t.arr_empty").array_type(), GgufValueType::FLOAT32);

  // Wrong types and missing keys name the file and the key.
  try {
    f.get_int("general.architecture");
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(b.path), std::string::npos) << msg;
    EXPECT_NE(msg.find("general.architecture"), std::string::npos) << msg;
    EXPECT_NE(msg.find("STRING"), std::string::npos) << msg;
  }
  EXPECT_THROW(f.get_string("no.such.key"), Error);
  EXPECT_THROW(f.get_int("t.u64"), Error);  // does not fit int64
  EXPECT_THROW(f.get_uint("t.i8"), Error);  // negative
  EXPECT_THROW(f.get_float("t.u32"), Error);
  EXPECT_THROW(f.get_strings("t.arr_i32"), Error);
  EXPECT_THROW(f.get_ints("t.arr_f32"), Error);
  EXPECT_THROW(f.get_bool("t.u8"), Error);
  EXPECT_THROW(f.tensor("nope"), Error);
  EXPECT_EQ(f.find_tensor("nope"), nullptr);
}

TEST(Gguf, ShapeIsReversedNe) {
  GgufTensorInfo t;
  t.ne = {4096, 11008};  // a [11008, 4096] PyTorch matrix
  EXPECT_EQ(t.shape(), (std::vector<int64_t>{11008, 4096}));
  EXPECT_EQ(t.row_length(), 4096);
  EXPECT_EQ(t.n_rows(), 11008);
  EXPECT_EQ(t.numel(), 4096 * 11008);
}

TEST(Gguf, AcceptsVersion2) {
  const Built b = build_everything(test::temp_dir("gguf-v2"), 32);
  std::vector<uint8_t> bytes = read_bytes(b.path);
  bytes[4] = 2;
  const GgufFile f = GgufFile::from_memory(bytes.data(), bytes.size(), "v2");
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.tensors().size(), b.tensors.size());
}

TEST(Gguf, RejectsVersionsAndMagicClearly) {
  const Built b = build_everything(test::temp_dir("gguf-ver"), 32);
  const std::vector<uint8_t> good = read_bytes(b.path);
  auto message = [&](std::vector<uint8_t> bytes) -> std::string {
    try {
      GgufFile::from_memory(bytes.data(), bytes.size(), "x.gguf");
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  std::vector<uint8_t> v1 = good;
  v1[4] = 1;
  EXPECT_NE(message(v1).find("version 1 is not supported"), std::string::npos) << message(v1);
  std::vector<uint8_t> v4 = good;
  v4[4] = 4;
  EXPECT_NE(message(v4).find("unsupported GGUF version 4"), std::string::npos) << message(v4);
  std::vector<uint8_t> be = good;
  be[4] = 0;
  be[7] = 3;
  EXPECT_NE(message(be).find("big-endian"), std::string::npos) << message(be);
  std::vector<uint8_t> magic = good;
  magic[0] = 'X';
  EXPECT_NE(message(magic).find("not a GGUF file"), std::string::npos) << message(magic);
  EXPECT_NE(message({}).find("x.gguf"), std::string::npos);
}

TEST(Gguf, EmptyAndMissingFiles) {
  const std::string dir = test::temp_dir("gguf-empty");
  write_text_file_atomically(dir + "/empty.gguf", "");
  EXPECT_THROW(GgufFile(dir + "/empty.gguf"), Error);
  EXPECT_THROW(GgufFile(dir + "/missing.gguf"), Error);
  // A header with nothing else is a valid, empty file.
  GgufWriter w;
  w.write(dir + "/bare.gguf");
  const GgufFile f(dir + "/bare.gguf");
  EXPECT_TRUE(f.metadata().empty());
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.file_size(), 32u);
}

TEST(GgufWriter, RejectsBadInput) {
  GgufWriter w;
  w.add("k", GgufValue::uint8(1));
  EXPECT_THROW(w.add("k", GgufValue::uint8(2)), Error);
  EXPECT_THROW(w.add("", GgufValue::uint8(2)), Error);
  EXPECT_THROW(w.add("general.alignment", GgufValue::uint32(48)), Error);
  EXPECT_THROW(w.add("general.alignment", GgufValue::uint64(64)), Error);
  EXPECT_THROW(w.set_alignment(0), Error);
  EXPECT_THROW(w.set_alignment(3), Error);
  EXPECT_THROW(GgufValue::array_of_arrays({GgufValue::uint8(1)}), Error);
  GgufValue deep = GgufValue::array(std::vector<uint8_t>{1});
  for (int i = 1; i < GgufFile::kMaxArrayDepth; ++i) deep = GgufValue::array_of_arrays({deep});
  w.add("deep.ok", deep);
  EXPECT_THROW(w.add("deep.too", GgufValue::array_of_arrays({deep})), Error);

  EXPECT_THROW(w.add_tensor("q", GgmlType::Q8_0, {33, 2}, std::vector<uint8_t>(100)), Error);
  EXPECT_THROW(w.add_tensor("f", GgmlType::F32, {4}, std::vector<uint8_t>(15)), Error);
  EXPECT_THROW(w.add_tensor("z", GgmlType::F32, {4, 0}, {}), Error);
  EXPECT_THROW(w.add_tensor("d", GgmlType::F32, {1, 1, 1, 1, 1}, std::vector<uint8_t>(4)), Error);
  EXPECT_THROW(w.add_tensor("", GgmlType::F32, {1}, std::vector<uint8_t>(4)), Error);
  EXPECT_THROW(w.add_tensor(std::string(64, 'n'), GgmlType::F32, {1}, std::vector<uint8_t>(4)), Error);
  EXPECT_THROW(w.add_tensor("t", GgmlType(4), {1}, std::vector<uint8_t>(4)), Error);
  w.add_tensor("ok", GgmlType::F32, {1}, std::vector<uint8_t>(4));
  EXPECT_THROW(w.add_tensor("ok", GgmlType::F32, {1}, std::vector<uint8_t>(4)), Error);
  EXPECT_THROW(w.set_alignment(64), Error);  // tensors already laid out
}

TEST(GgufWriter, FailedWriteLeavesNothingBehind) {
  const std::string dir = test::temp_dir("gguf-atomic");
  for (int wrong : {-1, +1}) {
    GgufWriter w;
    w.add("general.architecture", GgufValue::string("llama"));
    w.add_tensor_streamed("t", GgmlType::F32, {8}, [wrong](GgufDataSink& sink) {
      std::vector<uint8_t> bytes(size_t(32 + wrong));
      sink.write(bytes.data(), bytes.size());
    });
    EXPECT_THROW(w.write(dir + "/out.gguf"), Error);
  }
  GgufWriter w;
  w.add_tensor_streamed("t", GgmlType::F32, {8},
                        [](GgufDataSink&) { throw Error("producer failed"); });
  EXPECT_THROW(w.write(dir + "/out.gguf"), Error);
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++entries;
  EXPECT_EQ(entries, 0u);
}

// Expected values below were read from the files with an independent Python
// script (struct.unpack over the raw bytes), not from nibble's reader.
TEST(GgufRealFiles, LlamaSpmVocab) {
  const GgufFile f(test::testdata("tokenizers/ggml-vocab-llama-spm.gguf"));
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.metadata().size(), 22u);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.get_string("general.architecture"), "llama");
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), "default");
  EXPECT_EQ(f.get("llama.vocab_size").type(), GgufValueType::UINT32);
  EXPECT_EQ(f.get_int("llama.vocab_size"), 32000);
  EXPECT_EQ(f.get_int("llama.context_length"), 4096);
  EXPECT_FLOAT_EQ(float(f.get_float("llama.attention.layer_norm_rms_epsilon")), 1e-5f);
  const auto& tokens = f.get_strings("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 32000u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[2], "</s>");
  EXPECT_EQ(tokens[13], "<0x0A>");
  EXPECT_EQ(tokens[450], "\xe2\x96\x81The");
  EXPECT_EQ(tokens[29871], "\xe2\x96\x81");
  EXPECT_EQ(tokens[31999], "\xe7\xbb\x99");
  const std::vector<double> scores = f.get_floats("tokenizer.ggml.scores");
  ASSERT_EQ(scores.size(), 32000u);
  EXPECT_EQ(scores[0], 0.0);
  EXPECT_EQ(scores[1000], -741.0);
  EXPECT_EQ(scores[29871], -1e9);
  EXPECT_EQ(scores[31999], -31740.0);
  const std::vector<int64_t> types = f.get_ints("tokenizer.ggml.token_type");
  ASSERT_EQ(types.size(), 32000u);
  EXPECT_EQ(f.get("tokenizer.ggml.token_type").array_type(), GgufValueType::INT32);
  EXPECT_EQ(types[0], 2);
  EXPECT_EQ(types[1], 3);
  EXPECT_EQ(types[100], 6);
  EXPECT_EQ(types[1000], 1);
  EXPECT_EQ(f.get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(f.get_int("tokenizer.ggml.eos_token_id"), 2);
  EXPECT_EQ(f.get_int("tokenizer.ggml.unknown_token_id"), 0);
  EXPECT_TRUE(f.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_FALSE(f.get_bool("tokenizer.ggml.add_eos_token"));
}

TEST(GgufRealFiles, Gpt2Vocab) {
  const GgufFile f(test::testdata("tokenizers/ggml-vocab-gpt-2.gguf"));
  EXPECT_EQ(f.metadata().size(), 16u);
  EXPECT_EQ(f.get_string("general.architecture"), "gpt2");
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(f.get_string("tokenizer.ggml.pre"), "gpt-2");
  const auto& tokens = f.get_strings("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 50257u);
  EXPECT_EQ(tokens[0], "!");
  EXPECT_EQ(tokens[198], "\xc4\x8a");  // "Ċ" = byte-level "\n"
  EXPECT_EQ(tokens[220], "\xc4\xa0");  // "Ġ" = byte-level " "
  EXPECT_EQ(tokens[464], "The");
  EXPECT_EQ(tokens[50256], "<|endoftext|>");
  const auto& merges = f.get_strings("tokenizer.ggml.merges");
  ASSERT_EQ(merges.size(), 50000u);
  EXPECT_EQ(merges[0], "\xc4\xa0 t");
  EXPECT_EQ(merges[2], "h e");
  EXPECT_EQ(merges[49999], "\xc4\xa0g azed");
  EXPECT_EQ(f.get_ints("tokenizer.ggml.token_type")[50256], 3);
  EXPECT_EQ(f.get_int("tokenizer.ggml.bos_token_id"), 50256);
  EXPECT_FALSE(f.has("tokenizer.ggml.scores"));
}

TEST(GgufRealFiles, Phi3Vocab) {
  const GgufFile f(test::testdata("tokenizers/ggml-vocab-phi-3.gguf"));
  EXPECT_EQ(f.metadata().size(), 26u);
  EXPECT_EQ(f.get_string("general.architecture"), "phi3");
  EXPECT_EQ(f.get_string("tokenizer.ggml.model"), "llama");
  const auto& tokens = f.get_strings("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 32064u);
  EXPECT_EQ(tokens[32000], "<|endoftext|>");
  EXPECT_EQ(tokens[32001], "<|assistant|>");
  EXPECT_EQ(tokens[32007], "<|end|>");
  EXPECT_EQ(tokens[32063], "[PAD32063]");
  EXPECT_EQ(f.get_floats("tokenizer.ggml.scores")[32063], -10000.0);
  EXPECT_EQ(f.get_int("tokenizer.ggml.eos_token_id"), 32000);
  EXPECT_EQ(f.get_int("tokenizer.ggml.padding_token_id"), 32000);
  EXPECT_EQ(f.get_int("general.quantization_version"), 2);
  EXPECT_EQ(f.get_string("tokenizer.chat_template").substr(0, 16), "{{ bos_token }}{");
}

// Copying a real file's metadata through the writer reproduces it byte for
// byte (these files have no tensors and no padding after the header except
// what alignment adds).
TEST(GgufRealFiles, MetadataSurvivesRewrite) {
  const std::string dir = test::temp_dir("gguf-rewrite");
  for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                           "ggml-vocab-phi-3.gguf"}) {
    SCOPED_TRACE(name);
    const std::string src = test::testdata(std::string("tokenizers/") + name);
    const std::string dst = dir + "/" + name;
    {
      const GgufFile f(src);
      GgufWriter w;
      for (const auto& [k, v] : f.metadata()) {
        EXPECT_TRUE(v.borrowed());
        w.add(k, v);
      }
      w.write(dst);
    }  // source closed: the writer must have copied borrowed values
    const GgufFile a(src), b(dst);
    ASSERT_EQ(a.metadata().size(), b.metadata().size());
    for (size_t i = 0; i < a.metadata().size(); ++i) {
      EXPECT_EQ(a.metadata()[i].first, b.metadata()[i].first);
      EXPECT_TRUE(a.metadata()[i].second == b.metadata()[i].second) << a.metadata()[i].first;
    }
    std::vector<uint8_t> original = read_bytes(src), rewritten = read_bytes(dst);
    ASSERT_GE(rewritten.size(), original.size());
    rewritten.resize(original.size());  // ours is padded to the alignment
    EXPECT_TRUE(original == rewritten);
  }
}

}  // namespace
}  // namespace nibble::io
