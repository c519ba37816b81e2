// nibble quantize --format gguf: a Hugging Face checkpoint into one GGUF
// file, with llama.cpp's quantizers and type mixtures (--type Q4_K_M ...),
// or with GPTQ-optimized codes in Q4_0 / Q4_1 / Q8_0 blocks (--method gptq);
// a LoRA adapter (--adapter) is merged into each weight in f32 just before
// it is quantized, with no merged copy of the model on disk.
#pragma once

#include <cstdint>
#include <string>

namespace nibble::cli {

struct GgufQuantizeRequest {
  std::string model, out;
  std::string type = "Q4_K_M";
  std::string method = "llama.cpp";  // or "gptq"
  std::string calib;                 // GPTQ calibration text (default: MODEL/calibration.txt)
  int nsamples = 128, seqlen = 2048;
  uint64_t seed = 0;
  double damp = 0.01;
  bool clip = true;                  // GPTQ: clipping search per group
  std::string imatrix;               // llama.cpp importance matrix (nibble imatrix, llama-imatrix)
  std::string adapter;               // PEFT LoRA adapter merged into each tensor as it is read
};

void quantize_to_gguf(const GgufQuantizeRequest& request);

}  // namespace nibble::cli
