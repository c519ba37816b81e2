#include "core/streamed_memory.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace nibble {

namespace {

constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kPage = 4096;

size_t mapped_length(size_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }

}  // namespace

uint8_t* allocate_streamed(size_t bytes) {
  if (bytes < kHugePage) {  // small: from the heap
    void* p = nullptr;
    NIBBLE_CHECK(posix_memalign(&p, 64, bytes > 0 ? bytes : 1) == 0, "out of memory for ", bytes,
                 " bytes of weights");
    std::memset(p, 0, bytes);
    return static_cast<uint8_t*>(p);
  }
  // Map a huge page more than needed, then unmap the parts before the first
  // 2 MiB boundary and after the length.
  const size_t length = mapped_length(bytes);
  void* raw = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  NIBBLE_CHECK(raw != MAP_FAILED, "out of memory for ", bytes, " bytes of weights");
  const uintptr_t begin = uintptr_t(raw);
  const uintptr_t start = (begin + kHugePage - 1) / kHugePage * kHugePage;
  if (start > begin) ::munmap(raw, start - begin);
  if (const size_t tail = kHugePage - (start - begin); tail > 0)
    ::munmap(reinterpret_cast<void*>(start + length), tail);
  // Before the first touch, so the pages are faulted in huge. Only the
  // whole huge pages: a partial one at the end would round RSS up by up to
  // 2 MiB a matrix. Advice only: where it fails, pages stay 4 KiB. The
  // pages come zeroed.
  ::madvise(reinterpret_cast<void*>(start), bytes / kHugePage * kHugePage, MADV_HUGEPAGE);
  return reinterpret_cast<uint8_t*>(start);
}

void free_streamed(uint8_t* p, size_t bytes) noexcept {
  if (p == nullptr) return;
  if (bytes < kHugePage)
    std::free(p);
  else
    ::munmap(p, mapped_length(bytes));
}

}  // namespace nibble
