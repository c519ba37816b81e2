#include <gtest/gtest.h>

#include <cstdint>

#include "core/streamed_memory.h"

namespace nibble {
namespace {

// Zeroed (packed weights rely on it for their padding), aligned for the
// kernels' 64-byte vectors, and 2 MiB aligned once a huge page fits.
TEST(StreamedMemory, ZeroedAndAligned) {
  for (size_t bytes : {size_t(0), size_t(1), size_t(4097), size_t(5) << 20}) {
    uint8_t* p = allocate_streamed(bytes);
    ASSERT_NE(p, nullptr) << bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (bytes >= (size_t(2) << 20) ? size_t(2) << 20 : 64), 0u)
        << bytes;
    size_t nonzero = 0;
    for (size_t i = 0; i < bytes; ++i) nonzero += p[i] != 0;
    EXPECT_EQ(nonzero, 0u) << bytes;
    if (bytes > 0) p[bytes - 1] = 1;  // writable to the end
    free_streamed(p, bytes);
  }
  free_streamed(nullptr, 0);
}

}  // namespace
}  // namespace nibble
