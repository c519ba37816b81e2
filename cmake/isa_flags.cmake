# Kernels are compiled several times for different instruction sets and picked
# at run time (src/kernels/dispatch.h). A source file opts in by its suffix:
#   *_avx2.cpp          AVX2 + FMA + F16C          (any x86-64-v3 machine)
#   *_avxvnni.cpp       AVX2 + AVX-VNNI            (VEX vpdpbusd: Alder Lake+)
#   *_avxvnni_evex.cpp  AVX2 + AVX-512 VNNI + VL   (the same 256-bit kernels
#                       in EVEX encoding, for AVX-512 CPUs without AVX-VNNI)
#   *_avx512.cpp        AVX-512 F/BW/VL/DQ + VNNI + BF16
# Everything else is built for baseline x86-64, so the binary runs anywhere.
# Such files must not instantiate inline library templates (no <vector>,
# <string>, <algorithm>): the linker could keep the wide-ISA copy of a shared
# inline function and run it on a machine without that ISA.
set(NIBBLE_AVX2_FLAGS -mavx2 -mfma -mf16c -mbmi2)
set(NIBBLE_AVXVNNI_FLAGS ${NIBBLE_AVX2_FLAGS} -mavxvnni)
set(NIBBLE_AVXVNNI_EVEX_FLAGS ${NIBBLE_AVX2_FLAGS} -mavx512vnni -mavx512vl)
set(NIBBLE_AVX512_FLAGS ${NIBBLE_AVX2_FLAGS} -mavx512f -mavx512bw -mavx512vl -mavx512dq
    -mavx512vnni -mavx512bf16)

function(nibble_apply_isa_flags)
  foreach(src IN LISTS ARGN)
    if(src MATCHES "_avx512\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${NIBBLE_AVX512_FLAGS}")
    elseif(src MATCHES "_avxvnni_evex\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${NIBBLE_AVXVNNI_EVEX_FLAGS}")
    elseif(src MATCHES "_avxvnni\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${NIBBLE_AVXVNNI_FLAGS}")
    elseif(src MATCHES "_avx2\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "${NIBBLE_AVX2_FLAGS}")
    endif()
  endforeach()
endfunction()
