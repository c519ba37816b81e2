// Memory for packed weights that decode reads once per token, front to
// back: 2 MiB aligned, with its whole 2 MiB pages advised to the kernel as
// transparent huge pages (where the system allows them; otherwise ordinary
// pages). A huge page lets one TLB entry cover 512 times as many weight
// bytes; 1-thread decode of GGUF kernels read 4-35% faster from DRAM with
// them (bench/gguf_matmul_bench, six alternated pairs, Q4_K and Q8_0).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nibble {

// `bytes` zeroed bytes (at least one); throws Error when out of memory.
uint8_t* allocate_streamed(size_t bytes);
void free_streamed(uint8_t* p) noexcept;  // null is fine

}  // namespace nibble
