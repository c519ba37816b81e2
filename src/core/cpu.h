// What the processor can do, read once from CPUID, and which kernel level
// that allows. NIBBLE_ISA=scalar|avx2|avx512 in the environment lowers the
// level (for tests and benchmarks); it never raises it past the hardware.
#pragma once

namespace nibble {

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false, avxvnni = false;
};

const CpuFeatures& cpu_features();

enum class Isa { scalar = 0, avx2 = 1, avx512 = 2 };

Isa best_isa();                // highest level the CPU (and NIBBLE_ISA) allows
const char* isa_name(Isa isa);

}  // namespace nibble
