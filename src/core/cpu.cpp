#include "core/cpu.h"

#include <cpuid.h>

#include <cstdlib>
#include <cstring>

namespace nibble {
namespace {

bool os_saves_zmm() {
  unsigned eax, edx;
  __asm__("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (eax & 0xe6) == 0xe6;  // SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM state
}

bool os_saves_ymm() {
  unsigned eax, edx;
  __asm__("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (eax & 0x6) == 0x6;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27);
  if (!osxsave || !os_saves_ymm()) return f;
  f.fma = c & (1u << 12);
  f.f16c = c & (1u << 29);
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  const unsigned leaf7_subleaves = a;  // highest valid subleaf of leaf 7
  f.avx2 = b & (1u << 5);
  if (os_saves_zmm()) {
    f.avx512f = b & (1u << 16);
    f.avx512dq = b & (1u << 17);
    f.avx512bw = b & (1u << 30);
    f.avx512vl = b & (1u << 31);
    f.avx512vnni = c & (1u << 11);
  }
  // Leaf 7 subleaf 1, EAX: bit 4 AVX-VNNI, bit 5 AVX512-BF16 (as Linux's
  // arch/x86/include/asm/cpufeatures.h, word 12, reads them).
  unsigned a1, b1, c1, d1;
  if (leaf7_subleaves >= 1 && __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) {
    f.avxvnni = a1 & (1u << 4);
    f.avx512bf16 = f.avx512f && (a1 & (1u << 5));
  }
  return f;
}

Isa detect_isa() {
  const CpuFeatures& f = cpu_features();
  Isa isa = Isa::scalar;
  if (f.avx2 && f.fma && f.f16c) isa = Isa::avx2;
  const bool evex_vnni256 = f.avx512f && f.avx512vl && f.avx512vnni;
  if (isa == Isa::avx2 && (f.avxvnni || evex_vnni256)) isa = Isa::avxvnni;
  if (isa == Isa::avxvnni && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq &&
      f.avx512vnni && f.avx512bf16)
    isa = Isa::avx512;
  if (const char* env = std::getenv("NIBBLE_ISA")) {
    Isa wanted = isa;
    if (!std::strcmp(env, "scalar")) wanted = Isa::scalar;
    if (!std::strcmp(env, "avx2")) wanted = Isa::avx2;
    if (!std::strcmp(env, "avxvnni")) wanted = Isa::avxvnni;
    if (!std::strcmp(env, "avx512")) wanted = Isa::avx512;
    if (wanted < isa) isa = wanted;
  }
  return isa;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

Isa best_isa() {
  static const Isa isa = detect_isa();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avxvnni: return "avxvnni";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

const char* isa_label(Isa isa) {
  if (isa == Isa::avxvnni) return cpu_features().avxvnni ? "avxvnni (vex)" : "avxvnni (evex)";
  return isa_name(isa);
}

}  // namespace nibble
