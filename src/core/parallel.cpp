#include "core/parallel.h"

#include <thread>

namespace nibble {
namespace {
int g_threads = 0;
}

void set_num_threads(int n) {
  g_threads = n > 0 ? n : int(std::max(1u, std::thread::hardware_concurrency()));
}

int num_threads() {
  if (g_threads <= 0) set_num_threads(0);
  return g_threads;
}

}  // namespace nibble
