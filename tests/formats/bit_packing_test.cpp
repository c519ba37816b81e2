// GPTQ packing against the worked examples of specs/gptq.md §7.4.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "formats/bit_packing.h"

namespace nibble::formats {
namespace {

std::vector<uint32_t> pack(const std::vector<uint8_t>& first_codes, int bits) {
  std::vector<uint8_t> codes(32, 0);
  for (size_t i = 0; i < first_codes.size(); ++i) codes[i] = first_codes[i];
  std::vector<uint32_t> words(static_cast<size_t>(bits));
  pack32(codes.data(), 1, bits, words.data(), 1);
  return words;
}

TEST(BitPacking, SpecWorkedExamples) {
  EXPECT_EQ(pack({0, 1, 2, 3, 4, 5, 6, 7}, 4)[0], 0x76543210u);
  EXPECT_EQ(int32_t(pack({15, 0, 1, 14, 8, 7, 3, 12}, 4)[0]), -1015488241);
  EXPECT_EQ(pack({0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3}, 2)[0], 0xE4E4E4E4u);
  EXPECT_EQ(pack({0x01, 0x80, 0xFF, 0x7F}, 8)[0], 0x7FFF8001u);
  std::vector<uint8_t> mod8(32);
  for (int k = 0; k < 32; ++k) mod8[k] = uint8_t(k % 8);
  EXPECT_EQ(pack(mod8, 3), (std::vector<uint32_t>{0x88FAC688u, 0xC688FAC6u, 0xFAC688FAu}));
}

TEST(BitPacking, SymmetricZeroWordsOfTheSpec) {
  // v1 stores z - 1: 4-bit z = 8 -> field 7, and so on (§7.5).
  EXPECT_EQ(pack(std::vector<uint8_t>(32, 7), 4)[0], 0x77777777u);
  EXPECT_EQ(pack(std::vector<uint8_t>(32, 1), 2)[0], 0x55555555u);
  EXPECT_EQ(pack(std::vector<uint8_t>(32, 127), 8)[0], 0x7F7F7F7Fu);
  EXPECT_EQ(pack(std::vector<uint8_t>(32, 3), 3),
            (std::vector<uint32_t>{0xDB6DB6DBu, 0xB6DB6DB6u, 0x6DB6DB6Du}));
  EXPECT_EQ(pack(std::vector<uint8_t>(32, 4), 3),
            (std::vector<uint32_t>{0x24924924u, 0x49249249u, 0x92492492u}));
}

TEST(BitPacking, RoundTripsWithStrides) {
  std::mt19937 rng(3);
  for (int bits : {2, 3, 4, 8}) {
    std::vector<uint8_t> codes(32 * 5), back(32 * 5);
    for (auto& c : codes) c = uint8_t(rng() % (1u << bits));
    std::vector<uint32_t> words(size_t(bits) * 7);
    pack32(codes.data() + 2, 5, bits, words.data() + 1, 7);
    unpack32(words.data() + 1, 7, bits, back.data() + 2, 5);
    for (int k = 0; k < 32; ++k) EXPECT_EQ(back[2 + k * 5], codes[2 + k * 5]) << bits << " " << k;
  }
}

}  // namespace
}  // namespace nibble::formats
