// nibble's NFC/NFD (tokenizer normalizers) by hand and against the JS
// runtime's String.prototype.normalize.
#include <gtest/gtest.h>

#include <random>

#include "hf_tokenizer_fixtures.h"
#include "tokenizer/unicode_normalize.h"
#include "tokenizer/unicode_normalize_tables.h"
#include "tokenizer/utf8.h"

namespace nibble {
namespace {

using tokenizer::to_nfc;
using tokenizer::to_nfd;
using tokenizer::utf8;

TEST(UnicodeNormalize, ComposesDecomposesAndReorders) {
  EXPECT_EQ(to_nfc("e\u0301"), "\u00E9");
  EXPECT_EQ(to_nfd("\u00E9"), "e\u0301");
  EXPECT_EQ(to_nfc("\u212B"), "\u00C5");                 // Angstrom sign -> Å (singleton)
  EXPECT_EQ(to_nfc("\u1100\u1161\u11A8"), "\uAC01");     // Hangul jamo -> syllable
  EXPECT_EQ(to_nfd("\uAC01"), "\u1100\u1161\u11A8");
  EXPECT_EQ(to_nfc("a\u0302\u0323"), "\u1EAD");          // marks reordered, then composed
  EXPECT_EQ(to_nfc("\u0958"), "\u0915\u093C");           // composition exclusion stays decomposed
  EXPECT_EQ(to_nfc("plain ascii"), "plain ascii");
  EXPECT_EQ(to_nfc("bad \xff e\u0301"), "bad \xff \u00E9");  // invalid bytes pass through
}

// Every character the tables know (Unicode 14.0, from Python's unicodedata)
// alone, every composition pair, every combining mark after a base and
// before an acute accent (reordering), and random runs of marks. Characters
// assigned after 14.0 are left out: the JS runtime knows newer Unicode
// (the stability policy keeps older characters' data unchanged).
TEST(UnicodeNormalize, AgreesWithJavaScriptNormalize) {
  namespace ud = tokenizer::unicode_data;
  std::vector<std::string> items;
  for (size_t i = 0; i < ud::kDecompositionCount; ++i) items.push_back(utf8(ud::kDecompositions[i].cp));
  for (size_t i = 0; i < ud::kCompositionCount; ++i)
    items.push_back(utf8(ud::kCompositions[i].first) + utf8(ud::kCompositions[i].second));
  for (size_t i = 0; i < ud::kCombiningClassCount; ++i)
    items.push_back(std::string("a") + utf8(ud::kCombiningClasses[i].cp) + "\u0301\u0323");
  for (uint32_t cp = 0xAC00; cp < 0xD7A4; cp += 97) items.push_back(utf8(cp) + "\u11A8");  // Hangul LV + T
  const std::vector<uint32_t> bases = {'a', 'e', 'o', 'u', 'A', 'O', 'n', 'c',
                                       's', 0x3B1, 0x3C9, 0x438, 0x915, 0x1100, 0xAC00};
  std::vector<uint32_t> marks;
  for (uint32_t cp = 0x300; cp < 0x370; ++cp) marks.push_back(cp);
  for (uint32_t cp : {0x93C, 0x94D, 0x1161, 0x1175, 0x11A8, 0x11C2, 0x3099, 0x309A, 0x20D0, 0x20E3})
    marks.push_back(cp);
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    for (int k = 0, n = 1 + rng() % 3; k < n; ++k) {
      s += utf8(bases[rng() % bases.size()]);
      for (int m = 0, nm = rng() % 4; m < nm; ++m) s += utf8(marks[rng() % marks.size()]);
    }
    items.push_back(s);
  }
  // 32 items to a string, space separated (a space blocks composition).
  std::vector<std::string> strings;
  for (size_t i = 0; i < items.size(); i += 32) {
    std::string s;
    for (size_t k = i; k < std::min(items.size(), i + 32); ++k) s += items[k] + " ";
    strings.push_back(s);
  }
  const nlohmann::json expected = test::run_tokenizers_js("--normalize", strings);
  ASSERT_TRUE(expected.is_array());
  ASSERT_EQ(expected.size(), strings.size());
  int mismatches = 0;
  for (size_t i = 0; i < strings.size() && mismatches < 10; ++i) {
    const std::string nfc = to_nfc(strings[i]), nfd = to_nfd(strings[i]);
    const bool ok = nfc == expected[i]["nfc"].get<std::string>() && nfd == expected[i]["nfd"].get<std::string>();
    EXPECT_TRUE(ok) << "string " << i << " " << nlohmann::json(strings[i]).dump() << "\n  js: " << expected[i].dump()
                    << "\n  nibble: nfc " << nlohmann::json(nfc).dump() << " nfd " << nlohmann::json(nfd).dump();
    if (!ok) ++mismatches;
  }
}

}  // namespace
}  // namespace nibble
