// Writing a base model with a LoRA adapter merged into it: a plain Hugging
// Face directory, one tensor in memory at a time, config.json last.
#pragma once

#include <string>

#include "core/dtype.h"
#include "io/model_source.h"
#include "lora/peft_adapter.h"

namespace nibble::lora {

// Merged tensors are written as `dtype` (F32 or BF16; BF16 rounds the
// merged f32 sum once), everything else is copied as stored.
void write_merged_model(const io::ModelSource& base, const PeftAdapter& adapter,
                        const std::string& out, DType dtype);

}  // namespace nibble::lora
