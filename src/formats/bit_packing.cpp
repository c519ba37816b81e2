#include "formats/bit_packing.h"

namespace nibble::formats {

void pack32(const uint8_t* codes, int64_t stride, int bits, uint32_t* words, int64_t word_stride) {
  const uint32_t mask = (1u << bits) - 1;
  for (int j = 0; j < bits; ++j) words[j * word_stride] = 0;
  for (int k = 0; k < 32; ++k) {
    const uint64_t value = codes[k * stride] & mask;
    const int bit = bits * k;
    const int word = bit / 32, shift = bit % 32;
    // A field may spill into the next word (only when 32 is not a multiple of bits).
    const uint64_t placed = value << shift;
    words[word * word_stride] |= uint32_t(placed);
    if (shift + bits > 32) words[(word + 1) * word_stride] |= uint32_t(placed >> 32);
  }
}

void unpack32(const uint32_t* words, int64_t word_stride, int bits, uint8_t* codes, int64_t stride) {
  const uint32_t mask = (1u << bits) - 1;
  if (32 % bits == 0) {  // 2, 4, 8 bits: no code straddles two words
    const int per_word = 32 / bits;
    for (int j = 0; j < bits; ++j) {
      uint32_t word = words[j * word_stride];
      for (int k = 0; k < per_word; ++k, word >>= bits) codes[(j * per_word + k) * stride] = uint8_t(word & mask);
    }
    return;
  }
  for (int k = 0; k < 32; ++k) {
    const int bit = bits * k;
    const int word = bit / 32, shift = bit % 32;
    uint64_t window = words[word * word_stride];
    if (shift + bits > 32) window |= uint64_t(words[(word + 1) * word_stride]) << 32;
    codes[k * stride] = uint8_t((window >> shift) & mask);
  }
}

}  // namespace nibble::formats
