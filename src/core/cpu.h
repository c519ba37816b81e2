// What the processor can do, read once from CPUID, and which kernel level
// that allows. NIBBLE_ISA=scalar|avx2|avxvnni|avx512 in the environment
// lowers the level (for tests and benchmarks); it never raises it past the
// hardware.
#pragma once

namespace nibble {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
};

const CpuFeatures& cpu_features();

// Kernel levels, in dispatch order (each implies the ones below it):
//   avx2     AVX2 + FMA + F16C
//   avxvnni  avx2 and 256-bit vpdpbusd: AVX-VNNI (VEX), or AVX-512 VNNI + VL
//            (EVEX) on AVX-512 CPUs without AVX-VNNI
//   avx512   avx2 and AVX-512 F/BW/VL/DQ + VNNI + BF16
enum class Isa { scalar = 0, avx2 = 1, avxvnni = 2, avx512 = 3 };

Isa best_isa();                // highest level the CPU (and NIBBLE_ISA) allows
const char* isa_name(Isa isa);
// isa_name, plus the encoding this CPU runs where the level has two:
// "avxvnni (vex)" or "avxvnni (evex)".
const char* isa_label(Isa isa);

}  // namespace nibble
