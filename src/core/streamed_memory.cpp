#include "core/streamed_memory.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace nibble {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}

uint8_t* allocate_streamed(size_t bytes) {
  if (bytes == 0) bytes = 1;
  void* p = nullptr;
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  NIBBLE_CHECK(posix_memalign(&p, align, bytes) == 0, "out of memory for ", bytes,
               " bytes of weights");
  // Before the first touch, so the pages are faulted in huge. Only the
  // whole huge pages: a partial one at the end would round RSS up by up to
  // 2 MiB a matrix. Advice only: where it fails, pages stay 4 KiB.
  if (const size_t whole = bytes / kHugePage * kHugePage; whole > 0)
    ::madvise(p, whole, MADV_HUGEPAGE);
  std::memset(p, 0, bytes);
  return static_cast<uint8_t*>(p);
}

void free_streamed(uint8_t* p) noexcept { std::free(p); }

}  // namespace nibble
