// CPU feature detection against the kernel's own reading of CPUID
// (/proc/cpuinfo flags), and the kernel level those features allow.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "core/cpu.h"

namespace nibble {
namespace {

// The flags of the first processor in /proc/cpuinfo (empty if unreadable).
std::set<std::string> linux_cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> flags;
    for (std::string w; words >> w;) flags.insert(w);
    return flags;
  }
  return {};
}

TEST(Cpu, FeaturesMatchLinuxsCpuinfoFlags) {
  const std::set<std::string> flags = linux_cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags line to compare with";
  const CpuFeatures& f = cpu_features();
  auto has = [&](const char* name) { return flags.count(name) > 0; };
  EXPECT_EQ(f.avx2, has("avx2"));
  EXPECT_EQ(f.fma, has("fma"));
  EXPECT_EQ(f.f16c, has("f16c"));
  EXPECT_EQ(f.avx512f, has("avx512f"));
  EXPECT_EQ(f.avx512bw, has("avx512bw"));
  EXPECT_EQ(f.avx512vl, has("avx512vl"));
  EXPECT_EQ(f.avx512dq, has("avx512dq"));
  EXPECT_EQ(f.avx512vnni, has("avx512_vnni"));
  EXPECT_EQ(f.avx512bf16, has("avx512_bf16"));
  EXPECT_EQ(f.avxvnni, has("avx_vnni"));
}

TEST(Cpu, LevelIsTheHighestTheFeaturesAllow) {
  if (std::getenv("NIBBLE_ISA")) GTEST_SKIP() << "NIBBLE_ISA lowers the level in this process";
  const CpuFeatures& f = cpu_features();
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  const bool vnni256 = f.avxvnni || (f.avx512f && f.avx512vl && f.avx512vnni);
  const bool avx512 = f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni &&
                      f.avx512bf16;
  const Isa want = !avx2 ? Isa::scalar : avx512 ? Isa::avx512 : vnni256 ? Isa::avxvnni : Isa::avx2;
  EXPECT_EQ(best_isa(), want) << isa_name(best_isa()) << " vs " << isa_name(want);
}

TEST(Cpu, NamesAndLabels) {
  EXPECT_STREQ(isa_name(Isa::avxvnni), "avxvnni");
  EXPECT_STREQ(isa_label(Isa::avx2), "avx2");
  EXPECT_STREQ(isa_label(Isa::avxvnni),
               cpu_features().avxvnni ? "avxvnni (vex)" : "avxvnni (evex)");
}

}  // namespace
}  // namespace nibble
