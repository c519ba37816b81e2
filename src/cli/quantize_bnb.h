// nibble quantize --method nf4|fp4|int8: a bitsandbytes-layout checkpoint
// (no calibration), optionally from a base model with a LoRA adapter merged
// tensor by tensor.
#pragma once

#include <string>

namespace nibble::cli {

bool is_bnb_method(const std::string& method);
void quantize_bnb(const std::string& model, const std::string& out, const std::string& method,
                  bool double_quant, const std::string& adapter);

}  // namespace nibble::cli
