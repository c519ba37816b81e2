// Integer-weight products (kernels/qmatmul.h) against dense bf16 on the
// linear shapes of a 1B Llama (hidden 2048, intermediate 5632, vocab 32000).
//
//   Decode    n = 1: "GB/s" is weight bytes streamed (packed codes, scales
//             and zeros; bf16: 2 bytes per weight) per second. Compare with
//             BM_Read of memory_bandwidth_bench on the same machine. The
//             iterations rotate over copies of the matrix totalling >= 256
//             MiB, so weights come from DRAM as in a real decode step, not
//             from L3.
//   DecodeCached  the same on one copy, which stays in L2/L3: the kernel's
//             compute ceiling. Far above DRAM bandwidth means decode is
//             memory bound (llama.cpp's Q4_0 is not, on Zen 4).
//   Prefill   n tokens: "GFLOP/s" counts 2 * rows * cols * n.
//
// Arguments: format (0 w4g128, 1 w8 per-channel, 2 w3g128, 3 w2g64,
// 4 bf16), shape (0 2048x2048, 1 5632x2048, 2 2048x5632, 3 32000x2048),
// threads, and n for prefill. Example, a short run:
//   qmatmul_bench --benchmark_min_time=0.2 --benchmark_filter='Decode'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "core/half.h"
#include "core/parallel.h"
#include "kernels/dense.h"
#include "kernels/qmatmul.h"

namespace {

using nibble::kernels::PackedQuantMatrix;

struct Format {
  const char* name;
  int bits;
  int64_t group;  // 0: per-channel; bits 16: bf16
};
const Format kFormats[] = {{"w4g128", 4, 128}, {"w8", 8, 0}, {"w3g128", 3, 128},
                           {"w2g64", 2, 64},   {"bf16", 16, 0}};
const int64_t kShapes[][2] = {{2048, 2048}, {5632, 2048}, {2048, 5632}, {32000, 2048}};

uint32_t next(uint64_t& s) {
  s = s * 6364136223846793005ull + 1442695040888963407ull;
  return uint32_t(s >> 33);
}

constexpr size_t kStreamBytes = size_t(256) << 20;

// The weights of one (format, shape), built once and kept: `copies` copies,
// so that a pass over all of them does not fit in the last-level cache.
struct Weights {
  std::vector<std::unique_ptr<PackedQuantMatrix>> packed;
  std::vector<std::vector<uint16_t>> bf16;
  size_t bytes = 0;  // of one copy
  size_t copies() const { return packed.empty() ? bf16.size() : packed.size(); }
};

const Weights& weights(int format, int shape) {
  static std::map<std::pair<int, int>, Weights> cache;
  auto it = cache.find({format, shape});
  if (it != cache.end()) return it->second;
  // One matrix at a time keeps memory flat across the run.
  cache.clear();
  Weights& w = cache[{format, shape}];
  const Format& f = kFormats[format];
  const int64_t rows = kShapes[shape][0], cols = kShapes[shape][1];
  uint64_t seed = 42;
  if (f.bits == 16) {
    w.bytes = size_t(rows * cols) * 2;
    w.bf16.resize(std::max<size_t>(2, kStreamBytes / w.bytes + 1));
    for (auto& copy : w.bf16) {
      copy.resize(size_t(rows * cols));
      for (auto& v : copy) v = nibble::f32_to_bf16((float(next(seed) % 2001) - 1000) * 1e-5f);
    }
    return w;
  }
  const int64_t group = f.group ? f.group : cols, groups = (cols + group - 1) / group;
  std::vector<uint8_t> codes(size_t(rows * cols));
  for (auto& q : codes) q = uint8_t(next(seed) & ((1u << f.bits) - 1));
  std::vector<uint16_t> scales(size_t(rows * groups)), zeros(scales.size());
  for (size_t i = 0; i < scales.size(); ++i) {
    scales[i] = nibble::f32_to_f16(0.001f + float(next(seed) % 100) * 1e-5f);
    zeros[i] = nibble::f32_to_f16(float(next(seed) & ((1u << f.bits) - 1)));
  }
  nibble::kernels::QuantSource s;
  s.rows = rows;
  s.cols = cols;
  s.bits = f.bits;
  s.group_size = group;
  s.codes = codes.data();
  s.scales = scales.data();
  s.zeros = zeros.data();
  w.packed.push_back(std::make_unique<PackedQuantMatrix>(s));
  w.bytes = w.packed[0]->bytes();
  while (w.packed.size() < std::max<size_t>(2, kStreamBytes / w.bytes + 1))
    w.packed.push_back(std::make_unique<PackedQuantMatrix>(s));
  return w;
}

void run(benchmark::State& state, int64_t n, bool cached = false) {
  const int format = int(state.range(0)), shape = int(state.range(1));
  nibble::set_num_threads(int(state.range(2)));
  const int64_t rows = kShapes[shape][0], cols = kShapes[shape][1];
  const Weights& w = weights(format, shape);
  std::vector<float> X(size_t(n * cols)), Y(size_t(n * rows));
  uint64_t seed = 7;
  for (auto& v : X) v = (float(next(seed) % 2001) - 1000) * 1e-3f;
  std::vector<uint8_t> scratch(w.packed.empty() ? 0 : w.packed[0]->scratch_bytes(n));
  size_t i = 0;
  for (auto _ : state) {
    i = cached || i + 1 == w.copies() ? 0 : i + 1;
    if (!w.packed.empty())
      nibble::kernels::qmatmul(*w.packed[i], X.data(), n, Y.data(), scratch.data(), scratch.size());
    else
      nibble::kernels::matmul_bf16(w.bf16[i].data(), rows, cols, X.data(), n, Y.data());
    benchmark::DoNotOptimize(Y.data());
    benchmark::ClobberMemory();
  }
  state.SetLabel(kFormats[format].name);
  if (n == 1)
    state.counters["GB/s"] = benchmark::Counter(double(w.bytes) * double(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * double(rows * cols * n) * double(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  nibble::set_num_threads(0);
}

void BM_Decode(benchmark::State& state) { run(state, 1); }
void BM_DecodeCached(benchmark::State& state) { run(state, 1, true); }
void BM_Prefill(benchmark::State& state) { run(state, state.range(3)); }

void decode_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"format", "shape", "threads"});
  for (int shape = 0; shape < 4; ++shape)
    for (int format = 0; format < 5; ++format)
      for (int threads : {1, 2}) b->Args({format, shape, threads});
}

void prefill_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"format", "shape", "threads", "n"});
  for (int shape : {1, 2})
    for (int format = 0; format < 5; ++format)
      for (int threads : {1, 2})
        for (int n : {64, 512}) b->Args({format, shape, threads, n});
}

BENCHMARK(BM_Decode)->Apply(decode_args)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DecodeCached)
    ->ArgNames({"format", "shape", "threads"})
    ->ArgsProduct({{0, 1, 2, 3, 4}, {0}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Prefill)->Apply(prefill_args)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
