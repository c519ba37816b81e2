// <immintrin.h> for the per-ISA kernel files (*_avx2.cpp, *_avx512.cpp):
// include it through this header. GCC 12's AVX-512 intrinsics initialize
// their "undefined" pass-through operands from themselves (`__m512 __Y = __Y`),
// which -Wall reports as (maybe-)uninitialized at every use once inlined;
// the warning is about the header's idiom, never about kernel code.
#pragma once

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
