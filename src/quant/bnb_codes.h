// bitsandbytes weight codes (specs/bitsandbytes.md §1–§4):
//
//   NF4 / FP4   the weight flattened row-major, cut into blocks of 64; per
//               block absmax (f32) and one 4-bit code-book index per value,
//               two per byte with the first value in the high nibble.
//   double      the absmax vector itself quantized: minus its mean, then
//   quant       8-bit blockwise (blocks of 256) on the signed dynamic map.
//   LLM.int8    per output row SCB = max|w|, codes round(w * 127 / SCB).
//
// These are the scalar, obviously-correct codecs; the kernels and the
// checkpoint reader/writer build on them.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace nibble::quant {

enum class FourBitType { nf4, fp4 };

constexpr int64_t kFourBitBlock = 64;   // values per absmax (transformers' fixed choice)
constexpr int64_t kNestedBlock = 256;   // absmax values per nested absmax

// The 16 code-book values (index = stored nibble), max |value| = 1.
const std::array<float, 16>& four_bit_table(FourBitType type);
std::string four_bit_name(FourBitType type);                  // "nf4" / "fp4"
FourBitType four_bit_type_from_name(const std::string& name);  // throws on anything else

// The code of a value already divided by its block's absmax: the nearest
// code-book entry, the lower one on an exact midpoint (bnb's CUDA trees).
uint8_t nf4_code(float u);
uint8_t fp4_code(float u);

// bnb's create_dynamic_map(signed=True, 7, 8): 256 sorted values in [-1, 1].
const std::array<float, 256>& dynamic_map();

// The per-block absmax quantized once more (double quantization).
struct NestedAbsmax {
  std::vector<uint8_t> codes;   // one per 64-block: index into the map
  std::vector<float> absmax;    // one per 256 codes
  float offset = 0;             // mean of the original absmax vector
};
NestedAbsmax quantize_absmax(const std::vector<float>& absmax);
// The steps before it: max |x| of each 64-block of x[0..n), and the mean
// that double quantization subtracts (what a writer needs ahead of time).
std::vector<float> block_absmax(const float* x, int64_t n);
float absmax_offset(const std::vector<float>& absmax);
// absmax[b] = map[codes[b]] * absmax[b / 256] + offset, with the given map.
std::vector<float> dequantize_absmax(const NestedAbsmax& nested, const float* map256);

struct FourBitWeight {
  FourBitType type = FourBitType::nf4;
  std::array<float, 16> table{};  // the code book (a checkpoint's stored quant_map)
  std::vector<int64_t> shape;    // [out, in]
  std::vector<uint8_t> packed;   // (numel + 1) / 2 bytes
  std::vector<float> absmax;     // per 64-block, as dequantization uses it
  bool double_quant = false;
  NestedAbsmax nested;           // when double_quant (absmax is its dequantization)

  int64_t numel() const;
  int64_t blocks() const { return int64_t(absmax.size()); }
  uint8_t code(int64_t i) const { return (packed[size_t(i / 2)] >> (i % 2 == 0 ? 4 : 0)) & 15; }
  // Stored bits per weight: codes, absmax (f32, or u8 + nested f32 + offset).
  double bits_per_weight() const;
};

FourBitWeight quantize_4bit(const float* x, const std::vector<int64_t>& shape, FourBitType type,
                            bool double_quant);
void dequantize_4bit(const FourBitWeight& w, float* out);  // numel values

struct Int8Weight {
  int64_t rows = 0, cols = 0;
  std::vector<int8_t> cb;    // [rows, cols]
  std::vector<float> scb;    // [rows]
};
Int8Weight quantize_int8(const float* w, int64_t rows, int64_t cols);
void dequantize_int8(const Int8Weight& w, float* out);  // rows * cols values

}  // namespace nibble::quant
