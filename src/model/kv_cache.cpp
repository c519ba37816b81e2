#include "model/kv_cache.h"

#include "core/error.h"

namespace nibble::model {

KVCache::KVCache(const io::ModelConfig& c, int slots, int context)
    : layers_(c.num_layers), slots_(slots), context_(context), kv_dim_(c.kv_dim()) {
  NIBBLE_CHECK(slots > 0 && context > 0, "KV cache needs at least one slot and one position");
  const double bytes = 2.0 * layers_ * slots_ * double(context_) * kv_dim_ * sizeof(float);
  NIBBLE_CHECK(bytes < 64e9, "KV cache of ", slots, " x ", context, " positions would need ",
               bytes / 1e9, " GB; lower --ctx or --max-batch");
  const size_t n = size_t(layers_) * slots_ * context_ * kv_dim_;
  keys_.assign(n, 0.0f);
  values_.assign(n, 0.0f);
}

}  // namespace nibble::model
