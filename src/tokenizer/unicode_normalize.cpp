#include "tokenizer/unicode_normalize.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tokenizer/unicode_normalize_tables.h"
#include "tokenizer/utf8.h"

namespace nibble::tokenizer {

namespace {

using namespace unicode_data;

// Invalid UTF-8 bytes travel as code points past the Unicode range, so no
// table knows them and they come back out as the raw byte.
constexpr uint32_t kRawByteBase = 0x110000;

// Hangul syllables decompose and compose by arithmetic (Unicode ch. 3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr uint32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

uint8_t combining_class(uint32_t cp) {
  if (cp < 0x300 || cp >= kRawByteBase) return 0;
  const auto* end = kCombiningClasses + kCombiningClassCount;
  const auto* it = std::lower_bound(kCombiningClasses, end, cp,
                                    [](const CombiningClass& c, uint32_t v) { return c.cp < v; });
  return (it != end && it->cp == cp) ? it->ccc : 0;
}

const Decomposition* find_decomposition(uint32_t cp) {
  if (cp < 0xC0 || cp >= kRawByteBase) return nullptr;
  const auto* end = kDecompositions + kDecompositionCount;
  const auto* it = std::lower_bound(kDecompositions, end, cp,
                                    [](const Decomposition& d, uint32_t v) { return d.cp < v; });
  return (it != end && it->cp == cp) ? it : nullptr;
}

void decompose(uint32_t cp, std::vector<uint32_t>& out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const uint32_t s = cp - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  const Decomposition* d = find_decomposition(cp);
  if (!d) {
    out.push_back(cp);
    return;
  }
  decompose(d->first, out);
  if (d->second) decompose(d->second, out);
}

// The primary composite of a + b, or 0.
uint32_t compose(uint32_t a, uint32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  const auto* end = kCompositions + kCompositionCount;
  const auto* it = std::lower_bound(kCompositions, end, std::pair{a, b},
                                    [](const Composition& c, std::pair<uint32_t, uint32_t> v) {
                                      return c.first != v.first ? c.first < v.first : c.second < v.second;
                                    });
  return (it != end && it->first == a && it->second == b) ? it->composite : 0;
}

// Full canonical decomposition in canonical order.
std::vector<uint32_t> decompose_text(std::string_view text) {
  std::vector<uint32_t> cps;
  cps.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const Utf8Char c = decode_utf8(text, i);
    i += c.len;
    if (c.valid) decompose(c.cp, cps);
    else cps.push_back(kRawByteBase + c.cp);
  }
  // Canonical ordering: a stable sort of each run of non-starters by class.
  for (size_t i = 0; i < cps.size();) {
    if (combining_class(cps[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < cps.size() && combining_class(cps[j]) != 0) ++j;
    if (j - i > 1)
      std::stable_sort(cps.begin() + i, cps.begin() + j,
                       [](uint32_t x, uint32_t y) { return combining_class(x) < combining_class(y); });
    i = j;
  }
  return cps;
}

std::string encode(const std::vector<uint32_t>& cps) {
  std::string out;
  out.reserve(cps.size() * 2);
  for (uint32_t cp : cps) {
    if (cp >= kRawByteBase) out += static_cast<char>(cp - kRawByteBase);
    else append_utf8(out, cp);
  }
  return out;
}

// Text of characters below U+0300 (the first combining marks) is already NFC:
// none of them is a combining mark or recomposes to something else.
bool all_below_combining_marks(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const Utf8Char c = decode_utf8(text, i);
    if (!c.valid || c.cp >= 0x300) return false;
    i += c.len;
  }
  return true;
}

}  // namespace

std::string to_nfd(std::string_view text) {
  bool ascii = std::all_of(text.begin(), text.end(), [](char c) { return (c & 0x80) == 0; });
  if (ascii) return std::string(text);
  return encode(decompose_text(text));
}

std::string to_nfc(std::string_view text) {
  if (all_below_combining_marks(text)) return std::string(text);
  const std::vector<uint32_t> cps = decompose_text(text);
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  ptrdiff_t starter = -1;  // index in `out` of the last starter
  for (uint32_t cp : cps) {
    const uint8_t ccc = combining_class(cp);
    if (starter >= 0) {
      // Canonical order makes the last character between the starter and cp
      // the one that decides whether cp is blocked.
      const bool adjacent = static_cast<size_t>(starter) + 1 == out.size();
      const uint8_t last = adjacent ? 0 : combining_class(out.back());
      const bool blocked = !adjacent && (last == 0 || last >= ccc);
      if (!blocked) {
        if (const uint32_t composite = compose(out[starter], cp)) {
          out[starter] = composite;
          continue;
        }
      }
    }
    if (ccc == 0) starter = static_cast<ptrdiff_t>(out.size());
    out.push_back(cp);
  }
  return encode(out);
}

}  // namespace nibble::tokenizer
