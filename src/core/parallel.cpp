#include "core/parallel.h"

#include <thread>

namespace nibble {
namespace {
int g_threads = 0;
thread_local bool t_serial = false;
}  // namespace

void set_num_threads(int n) {
  g_threads = n > 0 ? n : int(std::max(1u, std::thread::hardware_concurrency()));
}

int num_threads() {
  if (g_threads <= 0) set_num_threads(0);
  return g_threads;
}

SerialRegion::SerialRegion() : saved_(t_serial) { t_serial = true; }

SerialRegion::~SerialRegion() { t_serial = saved_; }

bool in_serial_region() { return t_serial; }

}  // namespace nibble
