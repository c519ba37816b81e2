// Run-time choice among the per-ISA builds of a kernel.
//
// A kernel family has one function type, a single-threaded function over a
// range of output rows (the shape of the *_ref functions), and one
// implementation per level:
//
//   scalar   foo_ref            baseline build, the tests' oracle
//   avx2     avx2::foo_rows     defined in foo_avx2.cpp   (AVX2 + FMA + F16C)
//   avxvnni  avxvnni::foo_rows  defined in foo_avxvnni.cpp (AVX2 + AVX-VNNI)
//            avxvnni_evex::foo_rows, the same source built as
//                               foo_avxvnni_evex.cpp (AVX2 + AVX-512 VNNI + VL)
//   avx512   avx512::foo_rows   defined in foo_avx512.cpp (AVX-512 F/BW/VL/DQ
//                               + VNNI + BF16: Isa::avx512 implies all of them)
//
// Level avxvnni (256-bit vpdpbusd) comes in two encodings because the CPUs
// that reach it differ: AVX-VNNI clients (VEX) and AVX-512 CPUs without
// AVX-VNNI (EVEX); pick() takes the one this CPU has. Few families have it.
//
// The wide builds live in their own namespaces, include intrinsics through
// kernels/simd.h and keep their helpers in an anonymous namespace, so no
// symbol is ever shared between two ISA builds. Their declarations go in the
// family's header, where tests call each build directly. The public entry
// point (baseline build) picks one with pick() and runs it over row blocks
// with for_row_blocks():
//
//   constexpr IsaKernels<FooFn> kFoo{foo_ref, avx2::foo_rows, avx512::foo_rows};
//   void foo(...) {
//     const FooFn kernel = pick(kFoo);
//     for_row_blocks(rows, 16, n * cols, [&](int64_t r0, int64_t r1) { kernel(..., r0, r1, ...); });
//   }
//
// A missing level (nullptr) falls back to the next lower one.
#pragma once

#include <cstdint>

#include "core/cpu.h"
#include "core/parallel.h"

namespace nibble::kernels {

template <class Fn>
struct IsaKernels {
  Fn scalar;
  Fn avx2 = nullptr;
  Fn avx512 = nullptr;
  Fn avxvnni = nullptr;       // VEX build of level avxvnni
  Fn avxvnni_evex = nullptr;  // its EVEX twin
};

// Whether this process may run code built for `isa`: the CPU has it and
// NIBBLE_ISA does not forbid it (tests use it to choose the per-ISA builds
// they call directly). For the two builds of level avxvnni, see below.
inline bool cpu_runs(Isa isa) { return isa <= best_isa(); }
inline bool cpu_runs_avxvnni_vex() { return cpu_runs(Isa::avxvnni) && cpu_features().avxvnni; }
inline bool cpu_runs_avxvnni_evex() {
  const CpuFeatures& f = cpu_features();
  return cpu_runs(Isa::avxvnni) && f.avx512f && f.avx512vl && f.avx512vnni;
}

// The best implementation level `isa` allows (default: this CPU's
// best_isa(); any other must be a level cpu_runs()). At level avxvnni the
// VEX build wherever the CPU has AVX-VNNI, else the EVEX twin.
template <class Fn>
Fn pick(const IsaKernels<Fn>& kernels, Isa isa = best_isa()) {
  if (isa >= Isa::avx512 && kernels.avx512) return kernels.avx512;
  if (isa >= Isa::avxvnni) {
    const Fn vnni = cpu_features().avxvnni ? kernels.avxvnni : kernels.avxvnni_evex;
    if (vnni) return vnni;
  }
  if (isa >= Isa::avx2 && kernels.avx2) return kernels.avx2;
  return kernels.scalar;
}

// Below this much work (multiply-adds) a call stays on the calling thread:
// waking the thread pool would cost more than it saves.
constexpr int64_t kMinParallelWork = int64_t(1) << 16;

// Calls body(r0, r1) on disjoint ranges covering [0, rows), spread over the
// threads by parallel_for_balanced, each a whole number of `block` rows
// (except at the end). A block of 16 rows also keeps threads off each
// other's cache lines of f32 outputs.
template <class Body>
void for_row_blocks(int64_t rows, int64_t block, int64_t work_per_row, Body&& body) {
  if (rows <= 0) return;
  if (rows * work_per_row < kMinParallelWork) {
    body(int64_t(0), rows);
    return;
  }
  parallel_for_balanced(rows, body, block);
}

}  // namespace nibble::kernels
