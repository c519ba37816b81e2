// The Unicode data behind unicode_normalize.cpp, generated into
// unicode_normalize_tables.cpp by gen_unicode_normalize_tables.py. Each table
// is sorted by its first field(s) for binary search.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nibble::tokenizer::unicode_data {

struct Decomposition {  // one level of a canonical decomposition: cp -> first [second]
  uint32_t cp, first, second;  // second == 0 for a singleton
};
struct CombiningClass {  // canonical combining class, listed only when non-zero
  uint32_t cp;
  uint8_t ccc;
};
struct Composition {  // primary composites: first + second -> composite
  uint32_t first, second, composite;
};

extern const Decomposition kDecompositions[];
extern const size_t kDecompositionCount;
extern const CombiningClass kCombiningClasses[];
extern const size_t kCombiningClassCount;
extern const Composition kCompositions[];
extern const size_t kCompositionCount;

}  // namespace nibble::tokenizer::unicode_data
