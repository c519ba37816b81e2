// The 256-bit VNNI build of the integer-weight products in EVEX encoding:
// qmatmul_avxvnni.cpp compiled a second time with AVX-512 VNNI + VL instead
// of AVX-VNNI (see there and cmake/isa_flags.cmake).
#include "kernels/qmatmul_avxvnni.cpp"
