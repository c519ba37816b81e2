// Our GGUF block codecs against llama.cpp itself: the libggml-base.so that
// node-llama-cpp ships (tests/js, pinned in its lock file), loaded with
// dlopen. For every type we quantize the same rows with ggml_quantize_chunk
// (what llama-quantize calls) with and without an importance vector and
// require identical bytes, then require llama.cpp's dequantize_row_* to give
// bit-identical floats to ours on those bytes. Skipped when the library is
// absent (npm ci not run in tests/js); NIBBLE_LIBGGML_BASE overrides the path.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "formats/gguf_blocks.h"

namespace nibble::formats {
namespace {

using QuantizeChunkFn = size_t (*)(int type, const float* src, void* dst, int64_t start,
                                   int64_t nrows, int64_t n_per_row, const float* imatrix);
using DequantizeRowFn = void (*)(const void* blocks, float* y, int64_t k);
using QuantizeRowFn = void (*)(const float* x, void* blocks, int64_t k);

class LibGgml {
 public:
  LibGgml() {
    const char* env = std::getenv("NIBBLE_LIBGGML_BASE");
    const std::string path =
        env ? env
            : std::string(NIBBLE_SOURCE_DIR) +
                  "/tests/js/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so";
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle_) {
      error_ = dlerror();
      return;
    }
    quantize_chunk = reinterpret_cast<QuantizeChunkFn>(dlsym(handle_, "ggml_quantize_chunk"));
  }
  ~LibGgml() {
    if (handle_) dlclose(handle_);
  }
  bool loaded() const { return handle_ && quantize_chunk; }
  const std::string& error() const { return error_; }

  // dequantize_row_q4_K and friends: "dequantize_row_" + the type name in
  // ggml's spelling (lower case except the K).
  DequantizeRowFn dequantize(GgmlType type) const {
    return reinterpret_cast<DequantizeRowFn>(dlsym(handle_, ("dequantize_row_" + ggml_name(type)).c_str()));
  }
  QuantizeRowFn quantize_ref(GgmlType type) const {
    return reinterpret_cast<QuantizeRowFn>(
        dlsym(handle_, ("quantize_row_" + ggml_name(type) + "_ref").c_str()));
  }

  QuantizeChunkFn quantize_chunk = nullptr;

 private:
  static std::string ggml_name(GgmlType type) {
    std::string name = io::ggml_type_name(type);
    for (char& c : name)
      if (c != 'K') c = char(std::tolower(static_cast<unsigned char>(c)));
    return name;
  }
  void* handle_ = nullptr;
  std::string error_;
};

const LibGgml& lib() {
  static const LibGgml instance;
  return instance;
}

#define REQUIRE_LIBGGML()                                                          \
  do {                                                                             \
    if (!lib().loaded()) GTEST_SKIP() << "libggml-base not loadable: " << lib().error(); \
  } while (0)

// Rows meant to reach every branch of the searches: Gaussian, heavy tails,
// all-positive (the min > 0 clamps), exact ties for the roundings, constant
// and all-zero blocks, values below GROUP_MAX_EPS, a lone outlier.
std::vector<float> test_rows(int64_t rows, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> gauss(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> x(size_t(rows * n));
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x.data() + r * n;
    const int kind = int(r % 8);
    for (int64_t i = 0; i < n; ++i) {
      float v = gauss(rng);
      switch (kind) {
        case 0: break;
        case 1: v = v * v * v * 0.05f; break;                      // heavy tails
        case 2: v = 0.01f + std::fabs(v) * 1e-3f; break;           // all positive
        case 3: v = float(int(v * 8.0f)) * 0.125f; break;          // ties on a grid
        case 4: v = (i / 32) % 3 == 0 ? 0.0f : ((i / 32) % 3 == 1 ? 0.7f : v); break;
        case 5: v = (i / 64) % 2 ? v * 1e-17f : v * 1e-4f; break;  // below / near eps
        case 6: v = i % 97 == 5 ? 40.0f : v * 0.02f; break;         // lone outliers
        case 7: v = -std::fabs(v) - 0.5f * uniform(rng); break;     // all negative
      }
      row[i] = v;
    }
  }
  return x;
}

std::vector<float> test_importance(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::lognormal_distribution<float> dist(0.0f, 1.5f);
  std::vector<float> w(static_cast<size_t>(n));
  for (float& v : w) v = dist(rng);
  w[3] = 0.0f;  // a dead column
  return w;
}

const GgmlType kTypes[] = {GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                           GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,
                           GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
                           GgmlType::IQ4_NL};

// Index of the first differing byte, or -1.
int64_t first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return int64_t(i);
  return -1;
}

void expect_same_quantization(GgmlType type, bool with_importance) {
  const int64_t rows = 16, n = 1024;
  const std::vector<float> x = test_rows(rows, n, 1234 + uint32_t(type));
  const std::vector<float> imatrix = test_importance(n, 99);
  const float* qw = with_importance ? imatrix.data() : nullptr;
  const uint64_t row_bytes = gguf_row_bytes(type, n);
  std::vector<uint8_t> ours(size_t(row_bytes * rows)), theirs(ours.size(), 0xAB);
  for (int64_t r = 0; r < rows; ++r) quantize_row(type, x.data() + r * n, ours.data() + r * row_bytes, n, qw);
  const size_t written = lib().quantize_chunk(int(type), x.data(), theirs.data(), 0, rows, n, qw);
  ASSERT_EQ(written, ours.size());
  const int64_t diff = first_difference(ours, theirs);
  const uint64_t block_bytes = io::ggml_type_info(type).type_size;
  EXPECT_EQ(diff, -1) << io::ggml_type_name(type) << (with_importance ? " with" : " without")
                      << " importance: first difference at byte " << diff << " (row "
                      << diff / int64_t(row_bytes) << ", block "
                      << (diff % int64_t(row_bytes)) / int64_t(block_bytes) << ", byte "
                      << (diff % int64_t(row_bytes)) % int64_t(block_bytes) << "): ours "
                      << (diff >= 0 ? int(ours[size_t(diff)]) : 0) << ", llama.cpp "
                      << (diff >= 0 ? int(theirs[size_t(diff)]) : 0);
}

TEST(GgufBlocksLlama, QuantizeMatchesLlamaCppByteForByte) {
  REQUIRE_LIBGGML();
  for (GgmlType type : kTypes) {
    SCOPED_TRACE(io::ggml_type_name(type));
    expect_same_quantization(type, false);
  }
}

TEST(GgufBlocksLlama, ImatrixQuantizeMatchesLlamaCppByteForByte) {
  REQUIRE_LIBGGML();
  for (GgmlType type : kTypes) {
    SCOPED_TRACE(io::ggml_type_name(type));
    expect_same_quantization(type, true);
  }
}

TEST(GgufBlocksLlama, Q8KMatchesReference) {
  REQUIRE_LIBGGML();
  const QuantizeRowFn ref = lib().quantize_ref(GgmlType::Q8_K);
  ASSERT_NE(ref, nullptr);
  const int64_t n = 4096;
  const std::vector<float> x = test_rows(1, n, 7);
  std::vector<uint8_t> ours(size_t(gguf_row_bytes(GgmlType::Q8_K, n))), theirs(ours.size());
  quantize_row(GgmlType::Q8_K, x.data(), ours.data(), n);
  ref(x.data(), theirs.data(), n);
  EXPECT_EQ(first_difference(ours, theirs), -1);
}

// Random bytes are valid blocks of every type (any f16 pattern is a scale,
// bar NaN/inf, which we avoid): both dequantizers must agree bit for bit.
TEST(GgufBlocksLlama, DequantizeMatchesLlamaCppBitForBit) {
  REQUIRE_LIBGGML();
  std::mt19937 rng(5);
  for (GgmlType type : kTypes) {
    if (type == GgmlType::F16 || type == GgmlType::BF16) continue;  // no dequantize_row_* symbol
    SCOPED_TRACE(io::ggml_type_name(type));
    const DequantizeRowFn theirs_fn = lib().dequantize(type);
    ASSERT_NE(theirs_fn, nullptr);
    const int64_t n = 2048;
    // Real quantized data, then random bytes with sane f16 scales.
    std::vector<uint8_t> blocks(size_t(gguf_row_bytes(type, n)));
    const std::vector<float> x = test_rows(1, n, 11);
    for (int pass = 0; pass < 2; ++pass) {
      if (pass == 0) {
        quantize_row(type, x.data(), blocks.data(), n);
      } else {
        for (uint8_t& b : blocks) b = uint8_t(rng());
        // Clear the top exponent bit of every 16-bit word: no f16 inf/NaN.
        // (Harmless for the packed code bytes, which any value is valid for.)
        for (size_t i = 1; i < blocks.size(); i += 2) blocks[i] &= 0xBF;
      }
      std::vector<float> ours(static_cast<size_t>(n)), theirs(static_cast<size_t>(n));
      dequantize_row(type, blocks.data(), ours.data(), n);
      theirs_fn(blocks.data(), theirs.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        uint32_t a, b;
        std::memcpy(&a, &ours[size_t(i)], 4);
        std::memcpy(&b, &theirs[size_t(i)], 4);
        ASSERT_EQ(a, b) << "pass " << pass << " element " << i << ": ours " << ours[size_t(i)]
                        << ", llama.cpp " << theirs[size_t(i)];
      }
    }
  }
}

}  // namespace
}  // namespace nibble::formats
