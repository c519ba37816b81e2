#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "core/parallel.h"

namespace nibble {
namespace {

// Every index exactly once, every chunk starting on a multiple of `align`,
// for ranges smaller and larger than threads x chunks.
TEST(Parallel, BalancedChunksCoverTheRangeOnce) {
  set_num_threads(2);
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(16), int64_t(100), int64_t(1000), int64_t(4099)}) {
    for (int64_t align : {int64_t(1), int64_t(16)}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      std::atomic<int> misaligned{0}, chunks{0};
      parallel_for_balanced(
          n,
          [&](int64_t begin, int64_t end) {
            if (begin % align != 0) ++misaligned;
            ++chunks;
            for (int64_t i = begin; i < end; ++i) ++hits[size_t(i)];
          },
          align);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[size_t(i)].load(), 1) << n << " " << align << " " << i;
      EXPECT_EQ(misaligned.load(), 0) << n << " " << align;
      const int64_t blocks = (n + align - 1) / align;
      EXPECT_LE(chunks.load(), std::min<int64_t>(blocks, 8)) << n << " " << align;
      if (blocks >= 8) {
        EXPECT_EQ(chunks.load(), 8) << n << " " << align;  // 4 chunks a thread
      }
    }
  }
  set_num_threads(0);
}

}  // namespace
}  // namespace nibble
