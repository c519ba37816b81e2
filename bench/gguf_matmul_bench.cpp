// GGUF block kernels (kernels/gguf_matmul.h) on a 1B-parameter Llama's
// shapes (hidden 2048, intermediate 5632, vocab 32000), through the
// dispatching, threaded entry point, quantizing the activations included.
//
//   Decode*   n = 1: "GB/s" is packed weight bytes read per second (10^9),
//             to hold against memory_bandwidth_bench's Read. Calls cycle
//             through copies of the matrix filling a 512 MiB pool, so the
//             weights come from DRAM as in a real forward pass rather than
//             from the L3; the pool is allocated as the model's packed
//             weights are (core/streamed_memory.h: huge pages).
//   Prefill*  n = 64 tokens: "GFLOP/s" (2 * rows * cols * n per call).
//
// Weights: 64 Gaussian rows quantized with formats::quantize_row, repeated
// down the matrix. NIBBLE_ISA=avx2 (or scalar) runs a lower ISA build.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <tuple>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "core/parallel.h"
#include "core/streamed_memory.h"
#include "formats/gguf_blocks.h"
#include "kernels/gguf_matmul.h"

namespace {

using nibble::kernels::GgufKernelType;
using nibble::kernels::GgufPackedMatrix;
using nibble::kernels::GgufPackedView;

constexpr int64_t kPoolBytes = int64_t(512) << 20;

// A packed rows x cols matrix of `type`, built once per shape.
const GgufPackedMatrix& packed_matrix(GgufKernelType type, int64_t rows, int64_t cols) {
  static std::map<std::tuple<int, int64_t, int64_t>, GgufPackedMatrix> cache;
  auto key = std::make_tuple(int(type), rows, cols);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  const auto gtype = nibble::io::GgmlType(uint32_t(type));
  const int64_t unique_rows = 64;
  const uint64_t row_bytes = nibble::formats::gguf_row_bytes(gtype, cols);
  std::vector<uint8_t> unique(size_t(row_bytes * unique_rows));
  std::mt19937 rng(1);
  std::normal_distribution<float> gauss(0.0f, 0.02f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < unique_rows; ++r) {
    for (float& v : row) v = gauss(rng);
    nibble::formats::quantize_row(gtype, row.data(), unique.data() + r * row_bytes, cols);
  }
  std::vector<uint8_t> blocks(size_t(row_bytes * rows));
  for (int64_t r = 0; r < rows; ++r)
    std::memcpy(blocks.data() + r * row_bytes, unique.data() + (r % unique_rows) * row_bytes, row_bytes);
  return cache.emplace(key, GgufPackedMatrix::pack(type, blocks.data(), rows, cols)).first->second;
}

// Views of as many copies of `m` as fit in the pool (one for prefill).
std::vector<GgufPackedView> copies(const GgufPackedMatrix& m, bool many) {
  static uint8_t* pool = nibble::allocate_streamed(size_t(kPoolBytes));
  const int64_t count = many ? kPoolBytes / int64_t(m.bytes()) : 1;
  std::vector<GgufPackedView> views;
  if (!many) {
    views.push_back(m.view());
    return views;
  }
  for (int64_t i = 0; i < count; ++i) {
    std::memcpy(pool + i * int64_t(m.bytes()), m.view().data, m.bytes());
    GgufPackedView v = m.view();
    v.data = pool + i * int64_t(m.bytes());
    views.push_back(v);
  }
  return views;
}

void run(benchmark::State& state, GgufKernelType type, int64_t n) {
  const int64_t rows = state.range(0), cols = state.range(1);
  nibble::set_num_threads(int(state.range(2)));
  const GgufPackedMatrix& m = packed_matrix(type, rows, cols);
  const std::vector<GgufPackedView> views = copies(m, n == 1);
  if (views.empty()) {
    state.SkipWithError("matrix larger than the pool");
    return;
  }
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n * cols));
  for (float& v : x) v = uniform(rng);
  std::vector<float> y(static_cast<size_t>(n * rows));
  size_t copy = 0;
  for (auto _ : state) {
    nibble::kernels::gguf_matmul(views[copy], x.data(), n, y.data());
    if (++copy == views.size()) copy = 0;
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double calls = double(state.iterations());
  if (n == 1)
    state.counters["GB/s"] =
        benchmark::Counter(calls * double(m.bytes()) / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(calls * 2.0 * double(rows * cols * n) / 1e9,
                                                 benchmark::Counter::kIsRate);
  state.SetLabel(nibble::isa_name(nibble::best_isa()));
  nibble::set_num_threads(0);
}

void BM_DecodeQ4_0(benchmark::State& s) { run(s, GgufKernelType::Q4_0, 1); }
void BM_DecodeQ8_0(benchmark::State& s) { run(s, GgufKernelType::Q8_0, 1); }
void BM_DecodeQ4_K(benchmark::State& s) { run(s, GgufKernelType::Q4_K, 1); }
void BM_DecodeQ5_K(benchmark::State& s) { run(s, GgufKernelType::Q5_K, 1); }
void BM_DecodeQ6_K(benchmark::State& s) { run(s, GgufKernelType::Q6_K, 1); }
void BM_PrefillQ4_0(benchmark::State& s) { run(s, GgufKernelType::Q4_0, 64); }
void BM_PrefillQ8_0(benchmark::State& s) { run(s, GgufKernelType::Q8_0, 64); }
void BM_PrefillQ4_K(benchmark::State& s) { run(s, GgufKernelType::Q4_K, 64); }
void BM_PrefillQ5_K(benchmark::State& s) { run(s, GgufKernelType::Q5_K, 64); }
void BM_PrefillQ6_K(benchmark::State& s) { run(s, GgufKernelType::Q6_K, 64); }

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"rows", "cols", "threads"});
  const int64_t kShapes[][2] = {{2048, 2048}, {5632, 2048}, {2048, 5632}, {32000, 2048}};
  for (int64_t threads : {1, 2})
    for (const auto& shape : kShapes) b->Args({shape[0], shape[1], threads});
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_DecodeQ4_0)->Apply(shapes);
BENCHMARK(BM_DecodeQ8_0)->Apply(shapes);
BENCHMARK(BM_DecodeQ4_K)->Apply(shapes);
BENCHMARK(BM_DecodeQ5_K)->Apply(shapes);
BENCHMARK(BM_DecodeQ6_K)->Apply(shapes);
BENCHMARK(BM_PrefillQ4_0)->Apply(shapes);
BENCHMARK(BM_PrefillQ8_0)->Apply(shapes);
BENCHMARK(BM_PrefillQ4_K)->Apply(shapes);
BENCHMARK(BM_PrefillQ5_K)->Apply(shapes);
BENCHMARK(BM_PrefillQ6_K)->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
