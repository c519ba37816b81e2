// Keys and values of past positions, for a fixed number of sequence slots
// (one per concurrent request) of up to `context` positions each, f32
// (holding fp16 values where the config asks for llama.cpp's attention).
// Each (layer, slot, KV head) owns two contiguous arrays in the layout the
// attention kernels read (kernels/attention.h): keys in transposed tiles of
// 16 positions, values position by position.
#pragma once

#include <cstdint>
#include <vector>

#include "io/model_config.h"

namespace nibble::model {

class KVCache {
 public:
  KVCache(const io::ModelConfig& config, int slots, int context);

  int slots() const { return slots_; }
  int context() const { return context_; }
  // Stores position `pos`'s key and value, kv_dim floats each (KV heads in order).
  void store(int layer, int slot, int pos, const float* key, const float* value);
  const float* key_tiles(int layer, int slot, int kv_head) const {
    return keys_.data() + head_index(layer, slot, kv_head) * key_floats_;
  }
  const float* values(int layer, int slot, int kv_head) const {
    return values_.data() + head_index(layer, slot, kv_head) * value_floats_;
  }
  size_t bytes() const { return (keys_.size() + values_.size()) * sizeof(float); }

 private:
  int64_t head_index(int layer, int slot, int kv_head) const {
    return (int64_t(layer) * slots_ + slot) * kv_heads_ + kv_head;
  }
  int layers_, slots_, context_, kv_heads_, head_dim_;
  bool half_precision_;
  int64_t key_floats_, value_floats_;  // per (layer, slot, KV head)
  std::vector<float> keys_, values_;
};

}  // namespace nibble::model
