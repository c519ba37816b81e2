// Packing b-bit integer codes into 32-bit words as GPTQ checkpoints do:
// each run of 32 codes becomes b little-endian words holding one (32·b)-bit
// stream in which code k occupies bits [b·k, b·k + b). For b = 2, 4, 8
// that is simply 32/b codes per word, lowest bits first; for b = 3 the
// codes 10 and 21 straddle word boundaries.
#pragma once

#include <cstdint>

namespace nibble::formats {

// codes[i * stride] for i < 32 → words[j * word_stride] for j < bits.
void pack32(const uint8_t* codes, int64_t stride, int bits, uint32_t* words, int64_t word_stride);
void unpack32(const uint32_t* words, int64_t word_stride, int bits, uint8_t* codes, int64_t stride);

}  // namespace nibble::formats
