// Threads. One process-wide thread count (the CLI's --threads), and
// parallel_for over a range split into one contiguous chunk per thread (or,
// parallel_for_balanced, into a few chunks per thread handed out in turn).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace nibble {

void set_num_threads(int n);  // n <= 0: all cores
int num_threads();

// While one lives, parallel_for runs inline on the thread that made it:
// for work started beside a parallel computation (std::async), which would
// otherwise bring a second full team of threads onto the same cores.
class SerialRegion {
 public:
  SerialRegion();
  ~SerialRegion();
  SerialRegion(const SerialRegion&) = delete;
  SerialRegion& operator=(const SerialRegion&) = delete;

 private:
  bool saved_;
};
bool in_serial_region();

// Calls body(begin, end) on disjoint chunks covering [0, n), in parallel.
// Chunks are multiples of `align` (except the last) so SIMD kernels can
// keep whole blocks of rows per thread.
template <class Body>
void parallel_for(int64_t n, Body&& body, int64_t align = 1) {
  if (n <= 0) return;
  const int threads = in_serial_region() ? 1 : int(std::min<int64_t>(num_threads(), (n + align - 1) / align));
  if (threads <= 1) {
    body(int64_t(0), n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const int64_t blocks = (n + align - 1) / align;
    const int64_t begin = std::min(n, blocks * t / threads * align);
    const int64_t end = std::min(n, blocks * (t + 1) / threads * align);
    if (begin < end) body(begin, end);
  }
}

// As parallel_for, but the range goes out in kChunksPerThread times as
// many chunks, taken from a shared counter: a thread that falls behind
// (its core busy with another process, a page fault) takes fewer, instead
// of holding the others at the closing barrier. For memory-bound products
// that are split once per call, decode's above all.
template <class Body>
void parallel_for_balanced(int64_t n, Body&& body, int64_t align = 1) {
  constexpr int64_t kChunksPerThread = 4;
  if (n <= 0) return;
  const int64_t blocks = (n + align - 1) / align;
  const int threads = in_serial_region() ? 1 : int(std::min<int64_t>(num_threads(), blocks));
  if (threads <= 1) {
    body(int64_t(0), n);
    return;
  }
  const int64_t chunks = std::min(blocks, kChunksPerThread * threads);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = std::min(n, blocks * c / chunks * align);
    const int64_t end = std::min(n, blocks * (c + 1) / chunks * align);
    if (begin < end) body(begin, end);
  }
}

}  // namespace nibble
