#include "core/blas_threads.h"

#include <cblas.h>

namespace nibble {

SingleThreadedBlas::SingleThreadedBlas() : saved_(openblas_get_num_threads()) { openblas_set_num_threads(1); }

SingleThreadedBlas::~SingleThreadedBlas() { openblas_set_num_threads(saved_); }

}  // namespace nibble
