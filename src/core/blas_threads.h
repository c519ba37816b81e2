// OpenBLAS runs a thread pool of its own. Code that splits work over
// nibble's threads (core/parallel.h) and calls BLAS inside each share must
// keep BLAS single-threaded for that time: otherwise calls made at once from
// several threads contend for the pool, how a product is split then depends
// on timing, and its last bits (so GPTQ's codes) change from run to run.
#pragma once

namespace nibble {

// Holds OpenBLAS at one thread for the guard's lifetime, then restores the
// previous setting.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas();
  ~SingleThreadedBlas();
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int saved_;
};

}  // namespace nibble
