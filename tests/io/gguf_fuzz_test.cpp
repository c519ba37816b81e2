// Robustness of the GGUF reader: hundreds of deterministic corruptions of a
// nibble-written file and of real llama.cpp vocabulary files must each end
// in a nibble::Error: no crash, no other exception, no huge allocation.
// Buffers are parsed from exactly-sized heap copies so that AddressSanitizer
// (NIBBLE_SANITIZE=ON) sees any read past the end.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <typeinfo>

#include "core/error.h"
#include "io/gguf.h"
#include "test_paths.h"

#if defined(__SANITIZE_ADDRESS__)
#define NIBBLE_GGUF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NIBBLE_GGUF_ASAN 1
#endif
#endif

namespace nibble::io {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ------------------------------------------------------------ layout walker
// An independent, trusting walk over a *valid* file that records where each
// structural field sits, so mutations can target them.

enum class Kind {
  Magic, Version, NTensors, NKv, KeyLen, ValueType, ArrayType, ArrayLen, StrLen, Scalar,
  NameLen, NDims, Dim, GgmlTypeId, Offset
};

struct Field {
  Kind kind;
  size_t at;
  size_t size;
  std::string owner;  // key or tensor name
  int index = 0;      // dimension index for Dim
};

struct Layout {
  std::vector<Field> fields;
  size_t header_end = 0;
  std::vector<const Field*> of(Kind k) const {
    std::vector<const Field*> out;
    for (const Field& f : fields)
      if (f.kind == k) out.push_back(&f);
    return out;
  }
};

class Walker {
 public:
  explicit Walker(const Bytes& b) : b_(b) {}

  Layout run() {
    field(Kind::Magic, 4, "");
    field(Kind::Version, 4, "");
    const uint64_t nt = get<uint64_t>();
    field(Kind::NTensors, 8, "");
    const uint64_t nkv = get<uint64_t>();
    field(Kind::NKv, 8, "");
    for (uint64_t i = 0; i < nkv; ++i) {
      const std::string key = str(Kind::KeyLen, "");
      const uint32_t type = get<uint32_t>();
      field(Kind::ValueType, 4, key);
      value(type, key);
    }
    for (uint64_t i = 0; i < nt; ++i) {
      const std::string name = str(Kind::NameLen, "");
      const uint32_t nd = get<uint32_t>();
      field(Kind::NDims, 4, name);
      for (uint32_t d = 0; d < nd; ++d) field(Kind::Dim, 8, name, int(d));
      field(Kind::GgmlTypeId, 4, name);
      field(Kind::Offset, 8, name);
    }
    layout_.header_end = pos_;
    return std::move(layout_);
  }

 private:
  template <class T>
  T get() const {
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof v);
    return v;
  }
  void field(Kind k, size_t size, const std::string& owner, int index = 0) {
    layout_.fields.push_back({k, pos_, size, owner, index});
    pos_ += size;
  }
  std::string str(Kind k, const std::string& owner) {
    const uint64_t n = get<uint64_t>();
    field(k, 8, owner);
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }
  void value(uint32_t type, const std::string& owner) {
    switch (type) {
      case 0: case 1: case 7: field(Kind::Scalar, 1, owner); break;
      case 2: case 3: field(Kind::Scalar, 2, owner); break;
      case 4: case 5: case 6: field(Kind::Scalar, 4, owner); break;
      case 10: case 11: case 12: field(Kind::Scalar, 8, owner); break;
      case 8: str(Kind::StrLen, owner); break;
      case 9: {
        const uint32_t et = get<uint32_t>();
        field(Kind::ArrayType, 4, owner);
        const uint64_t n = get<uint64_t>();
        field(Kind::ArrayLen, 8, owner);
        for (uint64_t i = 0; i < n; ++i) value(et, owner);
        break;
      }
      default: ADD_FAILURE() << "walker: bad type " << type;
    }
  }

  const Bytes& b_;
  size_t pos_ = 0;
  Layout layout_;
};

template <class T>
Bytes patched(const Bytes& base, size_t at, T v) {
  Bytes out = base;
  std::memcpy(out.data() + at, &v, sizeof v);
  return out;
}

Bytes patched_field(const Bytes& base, const Field& f, uint64_t v) {
  Bytes out = base;
  std::memcpy(out.data() + f.at, &v, f.size);  // little-endian: low bytes first
  return out;
}

// Reads everything a parsed file hands out, so ASan checks each view.
uint64_t touch_everything(const GgufFile& f) {
  uint64_t sum = 0;
  std::function<void(const GgufValue&)> touch = [&](const GgufValue& v) {
    if (v.type() == GgufValueType::STRING) {
      for (char c : v.as_string()) sum += uint8_t(c);
    } else if (v.is_array()) {
      if (v.array_type() == GgufValueType::STRING) {
        for (std::string_view s : v.as_strings())
          if (!s.empty()) sum += uint8_t(s.front()) + uint8_t(s.back());
      } else if (v.array_type() == GgufValueType::ARRAY) {
        for (const GgufValue& item : v.as_arrays()) touch(item);
      } else {
        for (uint8_t b : v.raw_elements()) sum += b;
      }
    }
  };
  for (const auto& [k, v] : f.metadata()) touch(v);
  for (const GgufTensorInfo& t : f.tensors()) sum += t.data[0] + t.data[t.nbytes - 1];
  return sum;
}

class Fuzzer {
 public:
  // A corruption that must be rejected with nibble::Error.
  void expect_error(const Bytes& bytes, const std::string& what) {
    ++must_throw_;
    const std::string label = "fuzz[" + what + "]";
    try {
      GgufFile f = GgufFile::from_memory(bytes.data(), bytes.size(), label);
      touch_everything(f);
      ADD_FAILURE() << what << ": parsed without error";
    } catch (const Error& e) {
      ++errors_;
      const std::string msg = e.what();
      if (msg.rfind(label + ": ", 0) != 0) ADD_FAILURE() << what << ": message lacks the file: " << msg;
      if (msg.find('\n') != std::string::npos) ADD_FAILURE() << what << ": multi-line message: " << msg;
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": " << typeid(e).name() << " instead of nibble::Error: " << e.what();
    } catch (...) {
      ADD_FAILURE() << what << ": unknown exception instead of nibble::Error";
    }
  }

  // A corruption that may or may not still be a valid file.
  void expect_no_crash(const Bytes& bytes, const std::string& what) {
    ++maybe_;
    try {
      GgufFile f = GgufFile::from_memory(bytes.data(), bytes.size(), "fuzz");
      touch_everything(f);
    } catch (const Error&) {
      ++maybe_errors_;
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": " << typeid(e).name() << " instead of nibble::Error: " << e.what();
    }
  }

  int must_throw() const { return must_throw_; }
  int errors() const { return errors_; }
  int maybe() const { return maybe_; }
  int maybe_errors() const { return maybe_errors_; }

 private:
  int must_throw_ = 0, errors_ = 0, maybe_ = 0, maybe_errors_ = 0;
};

// ------------------------------------------------------------ base files

Bytes nibble_base_file(const std::string& dir) {
  GgufWriter w;
  w.set_alignment(64);
  w.add("general.architecture", GgufValue::string("llama"));
  w.add("dup.a", GgufValue::uint32(1));
  w.add("dup.b", GgufValue::uint32(2));
  w.add("s.i8", GgufValue::int8(-3));
  w.add("s.u16", GgufValue::uint16(300));
  w.add("s.f32", GgufValue::float32(0.5f));
  w.add("s.f64", GgufValue::float64(2.5));
  w.add("s.bool", GgufValue::boolean(true));
  w.add("s.i64", GgufValue::int64(-7));
  w.add("a.tokens", GgufValue::string_array(std::vector<std::string>{"<unk>", "<s>", "</s>", "hello"}));
  w.add("a.scores", GgufValue::array(std::vector<float>{0.f, -1.f, -2.f, -3.f}));
  w.add("a.types", GgufValue::array(std::vector<int32_t>{2, 3, 3, 1}));
  w.add("a.u64", GgufValue::array(std::vector<uint64_t>{1, 2}));
  w.add("a.nested", GgufValue::array_of_arrays(
                        {GgufValue::array(std::vector<uint16_t>{1, 2, 3}),
                         GgufValue::string_array(std::vector<std::string>{"x"})}));
  std::mt19937 rng(7);
  auto add = [&](const std::string& name, GgmlType type, std::vector<int64_t> ne) {
    std::vector<uint8_t> bytes(size_t(ggml_nbytes(type, ne)));
    for (auto& b : bytes) b = uint8_t(rng());
    w.add_tensor(name, type, std::move(ne), std::move(bytes));
  };
  add("t.a", GgmlType::F32, {8});
  add("t.b", GgmlType::F32, {8});
  add("blk.0.attn_q.weight", GgmlType::Q8_0, {64, 2});
  add("blk.0.ffn_up.weight", GgmlType::Q4_K, {256, 2});
  add("blk.0.ffn_down.weight", GgmlType::F16, {16, 3, 2});
  const std::string path = dir + "/base.gguf";
  w.write(path);
  return read_bytes(path);
}

// Hand-built header with one key holding arrays nested `depth` deep.
Bytes nested_array_file(int depth) {
  Bytes b;
  auto put = [&](const void* p, size_t n) {
    b.insert(b.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
  };
  auto u32 = [&](uint32_t v) { put(&v, 4); };
  auto u64 = [&](uint64_t v) { put(&v, 8); };
  put("GGUF", 4);
  u32(3);
  u64(0);
  u64(1);
  u64(4);
  put("deep", 4);
  u32(9);  // ARRAY
  for (int d = 1; d < depth; ++d) {
    u32(9);  // of ARRAY
    u64(1);  // one element
  }
  u32(0);  // innermost: UINT8
  u64(1);
  b.push_back(42);
  return b;
}

constexpr uint64_t k2_63 = uint64_t(1) << 63;
constexpr uint64_t k2_40 = uint64_t(1) << 40;
constexpr uint64_t kAllOnes = ~uint64_t(0);

// Mutations that must fail for any valid base file. `limit` caps how many
// fields of each kind are used (the vocabulary files have ~100k strings).
void structural_mutations(Fuzzer& fz, const Bytes& base, const Layout& L, const std::string& tag,
                          size_t limit) {
  auto sample = [&](Kind k) {
    std::vector<const Field*> all = L.of(k), out;
    for (size_t i = 0; i < all.size() && out.size() < limit; ++i) out.push_back(all[i]);
    // ...and always the last few, deep inside big arrays.
    for (size_t i = all.size() > 3 ? all.size() - 3 : 0; i < all.size(); ++i)
      if (std::find(out.begin(), out.end(), all[i]) == out.end()) out.push_back(all[i]);
    return out;
  };
  auto name = [&](const char* what, const Field& f, uint64_t v) {
    return cat(tag, " ", what, "@", f.at, " (", f.owner, ")=", v);
  };

  // Magic and version.
  for (int i = 0; i < 4; ++i) {
    Bytes b = base;
    b[size_t(i)] ^= 0xFF;
    fz.expect_error(b, cat(tag, " magic byte ", i));
  }
  for (uint32_t v : {0u, 1u, 4u, 0x03000000u, 0xFFFFFFFFu})
    fz.expect_error(patched<uint32_t>(base, 4, v), cat(tag, " version ", v));

  // Counts larger than the file could hold.
  for (const Field* f : {&L.fields[2], &L.fields[3]})
    for (uint64_t v : {k2_63, k2_63 - 1, k2_40, uint64_t(1) << 32, kAllOnes, uint64_t(base.size())})
      fz.expect_error(patched_field(base, *f, v), name(f == &L.fields[2] ? "n_tensors" : "n_kv", *f, v));

  // String lengths past the end of the file.
  for (Kind k : {Kind::KeyLen, Kind::StrLen, Kind::NameLen})
    for (const Field* f : sample(k))
      for (uint64_t v : {k2_63, k2_40, kAllOnes, uint64_t(base.size())})
        fz.expect_error(patched_field(base, *f, v), name("string length", *f, v));

  // Unknown value and element types.
  for (const Field* f : sample(Kind::ValueType))
    for (uint64_t v : {13u, 99u, 0x80000000u, 0xFFFFFFFFu})
      fz.expect_error(patched_field(base, *f, v), name("value type", *f, v));
  for (const Field* f : sample(Kind::ArrayType))
    for (uint64_t v : {13u, 64u, 0xFFFFFFFFu})
      fz.expect_error(patched_field(base, *f, v), name("array type", *f, v));

  // Array lengths x element size past the end.
  for (const Field* f : sample(Kind::ArrayLen))
    for (uint64_t v : {k2_63, k2_40, kAllOnes, uint64_t(base.size())})
      fz.expect_error(patched_field(base, *f, v), name("array length", *f, v));

  // Tensor infos.
  for (const Field* f : sample(Kind::NDims))
    for (uint64_t v : {0u, 5u, 0xFFFFFFFFu})
      fz.expect_error(patched_field(base, *f, v), name("n_dims", *f, v));
  for (const Field* f : sample(Kind::Dim))
    for (uint64_t v : {uint64_t(0), kAllOnes /* -1 */, k2_63 /* INT64_MIN */, uint64_t(1) << 62, k2_40,
                       uint64_t(1) << 31})
      fz.expect_error(patched_field(base, *f, v), name("dim", *f, v));
  for (const Field* f : sample(Kind::GgmlTypeId))
    for (uint64_t v : {4u, 5u, 31u, 36u, 99u, 0xFFFFFFFFu})
      fz.expect_error(patched_field(base, *f, v), name("ggml type", *f, v));
  for (const Field* f : sample(Kind::Offset))
    for (uint64_t v : {k2_63, kAllOnes - 63, (uint64_t(base.size()) + 63) / 64 * 64})
      fz.expect_error(patched_field(base, *f, v), name("offset", *f, v));

  // Truncation at every structural boundary (and one byte into each field).
  for (size_t i = 0; i < L.fields.size(); i += std::max<size_t>(1, L.fields.size() / (2 * limit))) {
    const Field& f = L.fields[i];
    fz.expect_error(Bytes(base.begin(), base.begin() + long(f.at)), cat(tag, " truncated at ", f.at));
    if (f.size > 1)
      fz.expect_error(Bytes(base.begin(), base.begin() + long(f.at + 1)),
                      cat(tag, " truncated at ", f.at + 1));
  }
}

// Tensor-specific corruptions of the nibble-written base file.
void tensor_mutations(Fuzzer& fz, const Bytes& base, const Layout& L) {
  const GgufFile good = GgufFile::from_memory(base.data(), base.size(), "base");
  ASSERT_EQ(good.alignment(), 64u);
  const auto offsets = L.of(Kind::Offset);
  ASSERT_EQ(offsets.size(), good.tensors().size());
  for (size_t i = 0; i < offsets.size(); ++i) {
    const Field& f = *offsets[i];
    const uint64_t off = good.tensors()[i].offset;
    // Misaligned, shifted into the next tensor (or past the end), overlapping others.
    for (uint64_t v : {off + 1, off + 32, off + 8, off + 64})
      fz.expect_error(patched_field(base, f, v), cat("offset of ", f.owner, " = ", v));
    for (size_t j = 0; j < offsets.size(); ++j)
      if (j != i)
        fz.expect_error(patched_field(base, f, good.tensors()[j].offset),
                        cat("offset of ", f.owner, " = offset of ", good.tensors()[j].name));
  }
  // Row length not a multiple of the block size (quantized tensors only).
  for (const Field* f : L.of(Kind::Dim)) {
    const GgufTensorInfo& t = good.tensor(f->owner);
    if (f->index != 0 || ggml_type_info(t.type).block_size == 1) continue;
    for (int64_t v : {t.ne[0] + 1, t.ne[0] - 1, int64_t(16)})
      fz.expect_error(patched_field(base, *f, uint64_t(v)), cat("ne[0] of ", f->owner, " = ", v));
  }
  // Alignment not a power of two, or not UINT32.
  for (const Field* f : L.of(Kind::Scalar)) {
    if (f->owner != "general.alignment") continue;
    for (uint64_t v : {0u, 3u, 48u, 96u, 0x80000001u})
      fz.expect_error(patched_field(base, *f, v), cat("general.alignment = ", v));
  }
  for (const Field* f : L.of(Kind::ValueType))
    if (f->owner == "general.alignment") {
      fz.expect_error(patched_field(base, *f, 5u), "general.alignment as INT32");
      fz.expect_error(patched_field(base, *f, 6u), "general.alignment as FLOAT32");
    }
  // Duplicate key and tensor names: rename "dup.b" to "dup.a", "t.b" to "t.a".
  for (const Field* f : L.of(Kind::KeyLen)) {
    Bytes b = base;
    if (std::memcmp(b.data() + f->at + 8, "dup.b", 5) == 0) {
      b[f->at + 8 + 4] = 'a';
      fz.expect_error(b, "duplicate key dup.a");
    }
  }
  for (const Field* f : L.of(Kind::NameLen)) {
    Bytes b = base;
    if (std::memcmp(b.data() + f->at + 8, "t.b", 3) == 0) {
      b[f->at + 8 + 2] = 'a';
      fz.expect_error(b, "duplicate tensor t.a");
    }
    // Empty names.
    Bytes e = patched_field(base, *f, 0);
    fz.expect_error(e, cat("empty tensor name at ", f->at));
  }
  // Truncation anywhere before the end of the last tensor's data.
  uint64_t data_end = 0;
  for (const GgufTensorInfo& t : good.tensors()) data_end = std::max(data_end, t.offset + t.nbytes);
  data_end += good.data_offset();
  std::mt19937_64 rng(11);
  for (int i = 0; i < 60; ++i) {
    const size_t cut = size_t(rng() % data_end);
    fz.expect_error(Bytes(base.begin(), base.begin() + long(cut)), cat("truncated at ", cut));
  }
  for (uint64_t cut : {data_end - 1, uint64_t(good.data_offset()), uint64_t(L.header_end),
                       uint64_t(L.header_end + 1)})
    fz.expect_error(Bytes(base.begin(), base.begin() + long(cut)), cat("truncated at ", cut));
}

void random_flips(Fuzzer& fz, const Bytes& base, size_t region, uint32_t seed, int n) {
  std::mt19937 rng(seed);
  for (int i = 0; i < n; ++i) {
    Bytes b = base;
    const int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      // Favour the first bytes, where the counts and first lengths sit.
      const size_t span = (rng() % 2) ? std::min<size_t>(region, 256) : region;
      b[rng() % span] ^= uint8_t(1u << (rng() % 8)) | uint8_t(rng());
    }
    fz.expect_no_crash(b, cat("random flips #", i, " seed ", seed));
  }
}

long max_rss_kb() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

TEST(GgufFuzz, CorruptedFilesFailCleanly) {
  const long rss_before = max_rss_kb();
  Fuzzer fz;

  const Bytes base = nibble_base_file(test::temp_dir("gguf-fuzz"));
  {
    const GgufFile ok = GgufFile::from_memory(base.data(), base.size(), "base");
    ASSERT_EQ(ok.tensors().size(), 5u);
  }
  const Layout L = Walker(base).run();
  structural_mutations(fz, base, L, "nibble", 1000);
  tensor_mutations(fz, base, L);
  random_flips(fz, base, L.header_end, 1, 400);
  const int nibble_cases = fz.must_throw();
  EXPECT_GE(nibble_cases, 300);

  for (const char* file : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                           "ggml-vocab-phi-3.gguf"}) {
    const Bytes vocab = read_bytes(test::testdata(std::string("tokenizers/") + file));
    ASSERT_GT(vocab.size(), 1000u) << file;
    const Layout V = Walker(vocab).run();
    ASSERT_EQ(V.header_end, vocab.size()) << file;
    const int before = fz.must_throw();
    structural_mutations(fz, vocab, V, file, 25);
    std::mt19937_64 rng(uint64_t(vocab.size()));
    for (int i = 0; i < 40; ++i) {
      const size_t cut = size_t(rng() % vocab.size());
      fz.expect_error(Bytes(vocab.begin(), vocab.begin() + long(cut)), cat(file, " truncated at ", cut));
    }
    EXPECT_GE(fz.must_throw() - before, 100) << file;
    random_flips(fz, vocab, std::min<size_t>(vocab.size(), 4096), 2, 100);
  }

  // Nested arrays: up to the depth limit is fine, one more is an error, and a
  // very deep nesting cannot exhaust the stack.
  {
    const Bytes ok = nested_array_file(GgufFile::kMaxArrayDepth);
    const GgufFile f = GgufFile::from_memory(ok.data(), ok.size(), "nested");
    const GgufValue* v = &f.get("deep");
    for (int d = 1; d < GgufFile::kMaxArrayDepth; ++d) v = &v->as_arrays().at(0);
    EXPECT_EQ(v->as_ints(), std::vector<int64_t>{42});
  }
  fz.expect_error(nested_array_file(GgufFile::kMaxArrayDepth + 1), "nested too deep");
  fz.expect_error(nested_array_file(100000), "nested 100000 deep");

  // A few corruptions through the mmap path too.
  const std::string dir = test::temp_dir("gguf-fuzz-files");
  for (size_t cut : {size_t(0), size_t(3), size_t(23), size_t(24), L.header_end - 1, base.size() - 65}) {
    const std::string path = dir + "/cut.gguf";
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(base.data()), long(cut));
    EXPECT_THROW(GgufFile{path}, Error) << cut;
  }

  EXPECT_EQ(fz.errors(), fz.must_throw());
  EXPECT_GE(fz.must_throw(), 300);
  std::printf("[ gguf fuzz ] %d corruptions rejected with nibble::Error; %d random flips, %d of them "
              "rejected, none crashed\n",
              fz.must_throw(), fz.maybe(), fz.maybe_errors());

#ifndef NIBBLE_GGUF_ASAN  // ASan's quarantine keeps freed memory resident
  // Each variant is parsed from a ~2 MB copy; a reader that trusted any of
  // the huge counts above would have needed gigabytes.
  const long grown_mb = (max_rss_kb() - rss_before) / 1024;
  EXPECT_LT(grown_mb, 64) << "peak memory grew by " << grown_mb << " MB";
#else
  (void)rss_before;
#endif
}

}  // namespace
}  // namespace nibble::io
