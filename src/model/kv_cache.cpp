#include "model/kv_cache.h"

#include "core/error.h"
#include "core/half.h"
#include "kernels/attention.h"

namespace nibble::model {

KVCache::KVCache(const io::ModelConfig& c, int slots, int context)
    : layers_(c.num_layers),
      slots_(slots),
      context_(context),
      kv_heads_(c.num_kv_heads),
      head_dim_(c.head_dim),
      half_precision_(c.llama_cpp_attention),
      key_floats_(kernels::key_tiles_size(context, c.head_dim)),
      value_floats_(int64_t(context) * c.head_dim) {
  NIBBLE_CHECK(slots > 0 && context > 0, "KV cache needs at least one slot and one position");
  const double bytes = double(layers_) * slots_ * kv_heads_ * double(key_floats_ + value_floats_) * sizeof(float);
  NIBBLE_CHECK(bytes < 64e9, "KV cache of ", slots, " x ", context, " positions would need ",
               bytes / 1e9, " GB; lower --ctx or --max-batch");
  const size_t heads = size_t(layers_) * slots_ * kv_heads_;
  keys_.assign(heads * key_floats_, 0.0f);
  values_.assign(heads * value_floats_, 0.0f);
}

void KVCache::store(int layer, int slot, int pos, const float* key, const float* value) {
  for (int h = 0; h < kv_heads_; ++h) {
    float* tiles = keys_.data() + head_index(layer, slot, h) * key_floats_;
    float* row = values_.data() + head_index(layer, slot, h) * value_floats_ + int64_t(pos) * head_dim_;
    const float* k = key + h * head_dim_;
    const float* v = value + h * head_dim_;
    for (int d = 0; d < head_dim_; ++d) {
      tiles[kernels::key_tile_offset(pos, d, head_dim_)] = half_precision_ ? round_to_f16(k[d]) : k[d];
      row[d] = half_precision_ ? round_to_f16(v[d]) : v[d];
    }
  }
}

}  // namespace nibble::model
