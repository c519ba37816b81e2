// Memory for packed weights that decode reads once per token, front to
// back. From 2 MiB up it is mapped on its own, 2 MiB aligned, with its whole
// 2 MiB pages advised to the kernel as transparent huge pages (where the
// system allows them; otherwise ordinary pages). A huge page lets one TLB
// entry cover 512 times as many weight bytes; 1-thread decode of GGUF
// kernels read 4-35% faster from DRAM with them (bench/gguf_matmul_bench,
// six alternated pairs, Q4_K and Q8_0). Mapping each matrix on its own
// rather than through malloc keeps the alignment from fragmenting the heap
// (through malloc's heap, peak RSS of a 1B w4 model grew by 109 MiB).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nibble {

// `bytes` zeroed bytes (at least one), 64-byte aligned at least; throws
// Error when out of memory.
uint8_t* allocate_streamed(size_t bytes);
// Frees what allocate_streamed(bytes) returned (null is fine).
void free_streamed(uint8_t* p, size_t bytes) noexcept;

}  // namespace nibble
