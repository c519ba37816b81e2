// Calibration data for GPTQ and AWQ: `nsamples` windows of `seqlen` tokens
// drawn at random (seeded) from a text or token file, as the GPTQ reference
// draws them from its datasets. Accepted files:
//   * plain text — tokenized as one string (with BOS), windows cut from it;
//   * JSON lines — each line a string, {"text": "..."}, a list of token ids,
//     or {"input_ids": [...]}; lines are concatenated in order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace nibble::quant {

struct CalibrationOptions {
  std::string file;
  int nsamples = 128;
  int seqlen = 2048;
  uint64_t seed = 0;
};

struct CalibrationSet {
  std::vector<std::vector<int>> samples;  // nsamples windows of seqlen ids
  int64_t source_tokens = 0;
  std::string description;  // one line for the log
};

// seqlen is clamped to max_context; throws Error for empty or unreadable files.
CalibrationSet load_calibration(const CalibrationOptions& options,
                                const tokenizer::Tokenizer& tokenizer, int max_context,
                                int vocab_size);

}  // namespace nibble::quant
