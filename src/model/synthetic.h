// Random-weight checkpoints of real model shapes, for benchmarks and
// big-model tests where no trained weights can be downloaded. The weights
// are N(0, 0.02) like a freshly initialized model (norms are 1), so the
// forward pass is numerically ordinary; the text it writes is noise.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/model_config.h"

namespace nibble::model {

struct SyntheticShape {
  std::string name, description;
  io::ModelConfig config;
};

const std::vector<SyntheticShape>& synthetic_shapes();
const SyntheticShape& find_synthetic_shape(const std::string& name);  // throws Error listing names

// Writes config.json, generation_config.json and BF16 weights (sharded above
// 4 GiB) into `dir`, creating it.
void write_synthetic_checkpoint(const io::ModelConfig& config, const std::string& dir,
                                uint64_t seed);

}  // namespace nibble::model
