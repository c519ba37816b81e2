// Run-time dispatch: the dispatch order AVX-512 > AVX-VNNI > AVX2 > scalar,
// fallback past missing builds, and the encoding level avxvnni takes.
#include <gtest/gtest.h>

#include "core/cpu.h"
#include "kernels/dispatch.h"

namespace nibble::kernels {
namespace {

int scalar_fn() { return 0; }
int avx2_fn() { return 1; }
int vex_fn() { return 20; }
int evex_fn() { return 21; }
int avx512_fn() { return 3; }

using Fn = int (*)();

TEST(KernelDispatch, AvxVnniSitsBetweenAvx2AndAvx512) {
  constexpr IsaKernels<Fn> all{.scalar = scalar_fn, .avx2 = avx2_fn, .avx512 = avx512_fn,
                               .avxvnni = vex_fn, .avxvnni_evex = evex_fn};
  // Only fake functions run here, so any level may be asked for.
  const int vnni = cpu_features().avxvnni ? 20 : 21;
  EXPECT_EQ(pick(all, Isa::avx512)(), 3);
  EXPECT_EQ(pick(all, Isa::avxvnni)(), vnni);
  EXPECT_EQ(pick(all, Isa::avx2)(), 1);
  EXPECT_EQ(pick(all, Isa::scalar)(), 0);

  constexpr IsaKernels<Fn> no512{.scalar = scalar_fn, .avx2 = avx2_fn, .avxvnni = vex_fn,
                                 .avxvnni_evex = evex_fn};
  EXPECT_EQ(pick(no512, Isa::avx512)(), vnni);
}

TEST(KernelDispatch, AMissingEncodingFallsBackToAvx2) {
  constexpr IsaKernels<Fn> vex_only{.scalar = scalar_fn, .avx2 = avx2_fn, .avxvnni = vex_fn};
  EXPECT_EQ(pick(vex_only, Isa::avxvnni)(), cpu_features().avxvnni ? 20 : 1);
  constexpr IsaKernels<Fn> no_vnni{scalar_fn, avx2_fn, avx512_fn};
  EXPECT_EQ(pick(no_vnni, Isa::avxvnni)(), 1);
  EXPECT_EQ(pick(no_vnni, Isa::avx512)(), 3);
}

TEST(KernelDispatch, TheVnniBuildsRunOnlyWhereTheirInstructionsExist) {
  const CpuFeatures& f = cpu_features();
  EXPECT_TRUE(!cpu_runs_avxvnni_vex() || f.avxvnni);
  EXPECT_TRUE(!cpu_runs_avxvnni_evex() || (f.avx512f && f.avx512vl && f.avx512vnni));
  // The level is reached only through one of them.
  EXPECT_EQ(cpu_runs(Isa::avxvnni), cpu_runs_avxvnni_vex() || cpu_runs_avxvnni_evex());
}

}  // namespace
}  // namespace nibble::kernels
