#include "formats/gguf_type_rules.h"

#include <regex>

#include "core/error.h"

namespace nibble::formats {

using io::GgmlType;

namespace {

constexpr GgufFileType kFileTypes[] = {
    {"F32", 0, GgmlType::F32},      {"F16", 1, GgmlType::F16},       {"BF16", 32, GgmlType::BF16},
    {"Q4_0", 2, GgmlType::Q4_0},    {"Q4_1", 3, GgmlType::Q4_1},     {"Q8_0", 7, GgmlType::Q8_0},
    {"Q5_0", 8, GgmlType::Q5_0},    {"Q5_1", 9, GgmlType::Q5_1},     {"Q2_K", 10, GgmlType::Q2_K},
    {"Q3_K_S", 11, GgmlType::Q3_K}, {"Q3_K_M", 12, GgmlType::Q3_K},  {"Q3_K_L", 13, GgmlType::Q3_K},
    {"Q4_K_S", 14, GgmlType::Q4_K}, {"Q4_K_M", 15, GgmlType::Q4_K},  {"Q5_K_S", 16, GgmlType::Q5_K},
    {"Q5_K_M", 17, GgmlType::Q5_K}, {"Q6_K", 18, GgmlType::Q6_K},
};

// llama.cpp's choice of layers that get more bits in the _M mixtures: the
// first and last eighth, and every third layer between.
bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

bool is_float(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

}  // namespace

const GgufFileType& gguf_file_type(const std::string& name) {
  for (const GgufFileType& t : kFileTypes)
    if (name == t.name) return t;
  fail("--type ", name, " is not a GGUF file type (", gguf_file_type_names(), ")");
}

std::string gguf_file_type_names() {
  std::string out;
  for (const GgufFileType& t : kFileTypes) out += (out.empty() ? "" : ", ") + std::string(t.name);
  return out;
}

GgmlType gguf_tensor_type(const GgufFileType& ftype, const std::string& name, int64_t row_length,
                          int n_dims, const io::ModelConfig& config, bool has_imatrix) {
  if (n_dims < 2) return GgmlType::F32;
  if (is_float(ftype.base)) return ftype.base;
  const std::string f = ftype.name;
  const int n_layers = config.num_layers;
  const int n_gqa = config.num_heads / config.num_kv_heads;
  static const std::regex layer_re(R"(blk\.(\d+)\..*)");
  std::smatch m;
  const int layer = std::regex_match(name, m, layer_re) ? std::stoi(m[1].str()) : -1;
  auto is = [&](const char* part) { return name.find(part) != std::string::npos; };

  GgmlType t = ftype.base;
  const bool is_output = name == "output.weight" ||
                         (config.tie_word_embeddings && name == "token_embd.weight");
  if (is_output) {
    if (row_length % 256 != 0) t = GgmlType::Q8_0;
    else if (t != GgmlType::Q8_0) t = GgmlType::Q6_K;
  } else if (is("attn_v.weight")) {
    if (f == "Q2_K") t = n_gqa >= 4 ? GgmlType::Q4_K : GgmlType::Q3_K;
    else if (f == "Q3_K_M") t = layer < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
    else if (f == "Q3_K_L") t = GgmlType::Q5_K;
    else if ((f == "Q4_K_M" || f == "Q5_K_M") && use_more_bits(layer, n_layers)) t = GgmlType::Q6_K;
    else if (f == "Q4_K_S" && layer < 4) t = GgmlType::Q5_K;
  } else if (is("ffn_down")) {
    if (f == "Q2_K") t = GgmlType::Q3_K;
    else if (f == "Q3_K_M") t = layer < n_layers / 16 ? GgmlType::Q5_K : GgmlType::Q4_K;
    else if (f == "Q3_K_L") t = GgmlType::Q5_K;
    else if (f == "Q4_K_M") { if (use_more_bits(layer, n_layers)) t = GgmlType::Q6_K; }
    else if (f == "Q5_K_M" && use_more_bits(layer, n_layers)) t = GgmlType::Q6_K;
    else if (f == "Q4_K_S" && layer < n_layers / 8) t = GgmlType::Q5_K;
    else if ((f == "Q4_0" || f == "Q5_0") && has_imatrix && layer < n_layers / 8)
      t = f == "Q4_0" ? GgmlType::Q4_1 : GgmlType::Q5_1;
  } else if (is("attn_output.weight")) {
    if (f == "Q2_K") t = GgmlType::Q3_K;
    else if (f == "Q3_K_M") t = GgmlType::Q4_K;
    else if (f == "Q3_K_L") t = GgmlType::Q5_K;
  }

  // Rows that do not split into whole blocks of the chosen type.
  if (row_length % io::ggml_type_info(t).block_size != 0) {
    switch (t) {
      case GgmlType::Q2_K:
      case GgmlType::Q3_K: t = GgmlType::IQ4_NL; break;
      case GgmlType::Q4_K: t = GgmlType::Q5_0; break;
      case GgmlType::Q5_K: t = GgmlType::Q5_1; break;
      case GgmlType::Q6_K: t = GgmlType::Q8_0; break;
      default: break;
    }
    if (row_length % io::ggml_type_info(t).block_size != 0) t = GgmlType::F16;
  }
  return t;
}

}  // namespace nibble::formats
