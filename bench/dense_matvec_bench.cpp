// Dense f32 / bf16 kernels on a 1B-parameter Llama's shapes (hidden 2048,
// intermediate 5632, vocab 32000), through the dispatching entry points.
//
//   Decode*   n = 1: "GB/s" is weight bytes read per second (10^9), to hold
//             against memory_bandwidth_bench's Read. Each call reads a
//             different copy of the matrix, cycling through a 512 MiB pool,
//             so the weights come from DRAM as in a real forward pass rather
//             than from the 32 MiB L3.
//   Prefill*  n = 64 tokens: "GFLOP/s" (2 * rows * cols * n per call).
//
// NIBBLE_ISA=avx2 (or scalar) in the environment runs a lower ISA build.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "core/cpu.h"
#include "core/parallel.h"
#include "kernels/dense.h"

namespace {

constexpr int64_t kPoolBytes = int64_t(512) << 20;

// A pool of 16-bit values that read as sane numbers both as bf16 and, in
// pairs, as f32 (exponents for about 2^-7 .. 2): no NaNs, no denormals.
const uint16_t* weight_pool() {
  static const std::unique_ptr<uint16_t[]> pool = [] {
    const int64_t count = kPoolBytes / 2;
    std::unique_ptr<uint16_t[]> p(new uint16_t[size_t(count)]);
    uint16_t* data = p.get();
    nibble::parallel_for(count, [&](int64_t i0, int64_t i1) {
      uint32_t state = uint32_t(i0) * 2654435761u + 1;
      for (int64_t i = i0; i < i1; ++i) {
        state = state * 1664525u + 1013904223u;
        data[i] = uint16_t(0x3c00 + (state >> 16) % 0x380) | uint16_t((state >> 8) & 0x8000);
      }
    });
    return p;
  }();
  return pool.get();
}

std::vector<float> random_input(int64_t count) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(count));
  for (float& v : x) v = uniform(rng);
  return x;
}

template <class Wt>
void run(benchmark::State& state, int64_t n) {
  const int64_t rows = state.range(0), cols = state.range(1);
  nibble::set_num_threads(int(state.range(2)));
  const int64_t matrix_elems = rows * cols;
  const int64_t pool_elems = kPoolBytes / int64_t(sizeof(Wt));
  const int64_t copies = n == 1 ? pool_elems / matrix_elems : 1;
  if (copies < 1) {
    state.SkipWithError("matrix larger than the pool");
    return;
  }
  const Wt* pool = reinterpret_cast<const Wt*>(weight_pool());
  const std::vector<float> x = random_input(n * cols);
  std::vector<float> y(static_cast<size_t>(n * rows));
  int64_t copy = 0;
  for (auto _ : state) {
    const Wt* W = pool + copy * matrix_elems;
    if (++copy == copies) copy = 0;
    if constexpr (sizeof(Wt) == 2)
      nibble::kernels::matmul_bf16(W, rows, cols, x.data(), n, y.data());
    else
      nibble::kernels::matmul_f32(W, rows, cols, x.data(), n, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double calls = double(state.iterations());
  if (n == 1)
    state.counters["GB/s"] = benchmark::Counter(
        calls * double(matrix_elems * int64_t(sizeof(Wt))) / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(calls * 2.0 * double(matrix_elems * n) / 1e9,
                                                 benchmark::Counter::kIsRate);
  state.SetLabel(nibble::isa_name(nibble::best_isa()));
  nibble::set_num_threads(0);
}

void BM_DecodeBf16(benchmark::State& state) { run<uint16_t>(state, 1); }
void BM_DecodeF32(benchmark::State& state) { run<float>(state, 1); }
void BM_PrefillBf16(benchmark::State& state) { run<uint16_t>(state, 64); }
void BM_PrefillF32(benchmark::State& state) { run<float>(state, 64); }

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"rows", "cols", "threads"});
  const int64_t kShapes[][2] = {{2048, 2048}, {5632, 2048}, {2048, 5632}, {32000, 2048}};
  for (int64_t threads : {1, 2})
    for (const auto& shape : kShapes) b->Args({shape[0], shape[1], threads});
  b->UseRealTime()->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_DecodeBf16)->Apply(shapes);
BENCHMARK(BM_DecodeF32)->Apply(shapes);
BENCHMARK(BM_PrefillBf16)->Apply(shapes);
BENCHMARK(BM_PrefillF32)->Apply(shapes);

}  // namespace

BENCHMARK_MAIN();
