// Keys and values of past positions, for a fixed number of sequence slots
// (one per concurrent request) of up to `context` positions each.
// Layout per layer: [slot][position][kv_dim], f32.
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
  float* key(int layer, int slot, int pos) { return at(keys_, layer, slot, pos); }
  float* value(int layer, int slot, int pos) { return at(values_, layer, slot, pos); }
  size_t bytes() const { return (keys_.size() + values_.size()) * sizeof(float); }

 private:
  float* at(std::vector<float>& v, int layer, int slot, int pos) {
    return v.data() + ((int64_t(layer) * slots_ + slot) * context_ + pos) * kv_dim_;
  }
  int layers_, slots_, context_, kv_dim_;
  std::vector<float> keys_, values_;
};

}  // namespace nibble::model
