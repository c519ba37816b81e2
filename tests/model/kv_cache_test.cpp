// KVCache: what store() writes is where the attention kernels look for it
// (kernels/attention.h), per layer, slot and KV head, without touching its
// neighbours.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/attention.h"
#include "model/kv_cache.h"

namespace nibble::model {
namespace {

io::ModelConfig small_config() {
  io::ModelConfig c;
  c.num_layers = 2;
  c.num_heads = 4;
  c.num_kv_heads = 2;
  c.head_dim = 3;
  return c;
}

TEST(KVCache, StoredPositionsLandInTheKernelLayout) {
  const io::ModelConfig c = small_config();
  KVCache cache(c, 2, 20);
  // Key/value float (layer, slot, pos, kv_dim index) gets a distinct value.
  auto key_at = [](int l, int s, int p, int i) { return float(1000 * l + 100 * s + 10 * p + i); };
  for (int l = 0; l < 2; ++l)
    for (int s = 0; s < 2; ++s)
      for (int p = 0; p < 20; ++p) {
        std::vector<float> k(6), v(6);
        for (int i = 0; i < 6; ++i) {
          k[i] = key_at(l, s, p, i);
          v[i] = -key_at(l, s, p, i);
        }
        cache.store(l, s, p, k.data(), v.data());
      }
  for (int l = 0; l < 2; ++l)
    for (int s = 0; s < 2; ++s)
      for (int h = 0; h < 2; ++h)
        for (int p = 0; p < 20; ++p)
          for (int d = 0; d < 3; ++d) {
            EXPECT_EQ(cache.key_tiles(l, s, h)[kernels::key_tile_offset(p, d, 3)], key_at(l, s, p, h * 3 + d));
            EXPECT_EQ(cache.values(l, s, h)[p * 3 + d], -key_at(l, s, p, h * 3 + d));
          }
}

TEST(KVCache, RejectsEmptyAndAbsurdSizes) {
  const io::ModelConfig c = small_config();
  EXPECT_THROW(KVCache(c, 0, 16), std::exception);
  EXPECT_THROW(KVCache(c, 1, 0), std::exception);
  EXPECT_THROW(KVCache(c, 1 << 20, 1 << 20), std::exception);
}

}  // namespace
}  // namespace nibble::model
