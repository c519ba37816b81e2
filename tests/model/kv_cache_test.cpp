// KVCache: what store() writes is where the attention kernels look for it
// (kernels/attention.h), per layer, slot and KV head, without touching its
// neighbours.
#include <gtest/gtest.h>

#include <cmath>
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

TEST(KVCache, HoldsHalfPrecisionValuesForLlamaCppAttention) {
  io::ModelConfig c = small_config();
  // As fp16: 1, 1.5 * 2^-12, inf; and -(1 + 2^-9), 0, 0.0999755859375.
  const std::vector<float> key = {1.0f + 0x1p-12f, 0x1.8p-12f, 70000.0f, 1, 2, 3};
  const std::vector<float> value = {-1.0f - 0x3p-11f, 1e-8f, 0.1f, 4, 5, 6};
  KVCache full(c, 1, 4);
  full.store(1, 0, 2, key.data(), value.data());
  EXPECT_EQ(full.key_tiles(1, 0, 0)[kernels::key_tile_offset(2, 0, 3)], key[0]);
  EXPECT_EQ(full.values(1, 0, 0)[2 * 3 + 0], value[0]);
  c.llama_cpp_attention = true;
  KVCache half(c, 1, 4);
  half.store(1, 0, 2, key.data(), value.data());
  const float* tiles = half.key_tiles(1, 0, 0);
  EXPECT_EQ(tiles[kernels::key_tile_offset(2, 0, 3)], 1.0f);
  EXPECT_EQ(tiles[kernels::key_tile_offset(2, 1, 3)], 0x1.8p-12f);
  EXPECT_EQ(tiles[kernels::key_tile_offset(2, 2, 3)], INFINITY);
  EXPECT_EQ(half.values(1, 0, 0)[2 * 3 + 0], -1.0f - 0x1p-9f);
  EXPECT_EQ(half.values(1, 0, 0)[2 * 3 + 1], 0.0f);
  EXPECT_EQ(half.values(1, 0, 0)[2 * 3 + 2], 0.0999755859375f);
}

TEST(KVCache, RejectsEmptyAndAbsurdSizes) {
  const io::ModelConfig c = small_config();
  EXPECT_THROW(KVCache(c, 0, 16), std::exception);
  EXPECT_THROW(KVCache(c, 1, 0), std::exception);
  EXPECT_THROW(KVCache(c, 1 << 20, 1 << 20), std::exception);
}

}  // namespace
}  // namespace nibble::model
