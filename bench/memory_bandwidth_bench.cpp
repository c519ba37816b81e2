// Memory bandwidth of this machine, the ceiling for decode: a matrix-vector
// product reads every weight once per token, so tokens/s <= bandwidth / bytes.
//
//   Triad  a[i] = b[i] + s * c[i]   STREAM's convention: 3 arrays counted
//                                    (the write-allocate read is not).
//   Read   sum of one array          what decode does to its weights.
//
// Arrays are 256 MiB each, far past any cache. The argument is the thread
// count (nibble::set_num_threads + parallel_for, as the kernels use it).
// The "GB/s" counter is in 10^9 bytes per second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

#include "core/parallel.h"

namespace {

constexpr int64_t kArrayBytes = int64_t(256) << 20;
constexpr int64_t kFloats = kArrayBytes / int64_t(sizeof(float));

// Unique ownership of a large uninitialized float array, first touched by
// the threads that will use it.
struct BigArray {
  std::unique_ptr<float[]> data{new float[kFloats]};
  explicit BigArray(float value) {
    float* p = data.get();
    nibble::parallel_for(kFloats, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) p[i] = value;
    });
  }
};

void add_gb_per_second(benchmark::State& state, int64_t bytes_per_iteration) {
  state.counters["GB/s"] = benchmark::Counter(
      double(bytes_per_iteration) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_Triad(benchmark::State& state) {
  nibble::set_num_threads(int(state.range(0)));
  BigArray a(0.0f), b(1.0f), c(2.0f);
  float* pa = a.data.get();
  const float* pb = b.data.get();
  const float* pc = c.data.get();
  const float s = 3.0f;
  for (auto _ : state) {
    nibble::parallel_for(kFloats, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) pa[i] = pb[i] + s * pc[i];
    }, 1024);
    benchmark::DoNotOptimize(pa);
    benchmark::ClobberMemory();
  }
  add_gb_per_second(state, 3 * kArrayBytes);
  nibble::set_num_threads(0);
}

void BM_Read(benchmark::State& state) {
  nibble::set_num_threads(int(state.range(0)));
  // Summed as integers: integer addition vectorizes without -ffast-math.
  std::unique_ptr<uint32_t[]> data(new uint32_t[kFloats]);
  uint32_t* p = data.get();
  nibble::parallel_for(kFloats, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) p[i] = uint32_t(i);
  });
  for (auto _ : state) {
    uint32_t sums[64] = {};
    nibble::parallel_for(kFloats, [&](int64_t i0, int64_t i1) {
      uint32_t sum = 0;
      for (int64_t i = i0; i < i1; ++i) sum += p[i];
      sums[i0 * 64 / kFloats] = sum;
    }, 1024);
    benchmark::DoNotOptimize(sums);
  }
  add_gb_per_second(state, kArrayBytes);
  nibble::set_num_threads(0);
}

BENCHMARK(BM_Triad)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Read)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
