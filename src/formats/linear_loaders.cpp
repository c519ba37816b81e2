#include "formats/linear_loaders.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include "core/error.h"
#include "core/files.h"
#include "formats/awq_codec.h"
#include "formats/bnb_checkpoint.h"
#include "formats/gguf_linear_loader.h"
#include "formats/gptq_codec.h"
#include "quant/quantized_linear.h"

namespace nibble::formats {

namespace {

using nlohmann::json;

int int_field(const json& qc, const char* name, const char* legacy_name, int fallback) {
  return qc.contains(name) ? qc[name].get<int>() : qc.value(legacy_name, fallback);
}

// GPTQModel's per-module overrides, as vLLM reads them: quantization_config
// "dynamic" maps a regex (matched from the start of the module name, like
// Python's re.match) to {bits, group_size, sym} overrides; a "-:" prefix
// marks modules left unquantized, "+:" (or none) modules with overrides.
struct DynamicRule {
  std::regex pattern;
  bool quantized = true;
  nlohmann::json overrides;
};

std::vector<DynamicRule> parse_dynamic(const nlohmann::json& qc, const std::string& where) {
  std::vector<DynamicRule> rules;
  if (!qc.contains("dynamic") || qc["dynamic"].is_null()) return rules;
  NIBBLE_CHECK(qc["dynamic"].is_object(), where, ".dynamic must be an object of regex -> overrides");
  for (const auto& [key, value] : qc["dynamic"].items()) {
    DynamicRule r;
    std::string pattern = key;
    if (pattern.rfind("-:", 0) == 0 || pattern.rfind("+:", 0) == 0) {
      r.quantized = pattern[0] == '+';
      pattern = pattern.substr(2);
    }
    NIBBLE_CHECK(value.is_object(), where, ".dynamic[\"", key, "\"] must be an object");
    try {
      r.pattern = std::regex(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      fail(where, ".dynamic: '", key, "' is not a valid regex: ", e.what());
    }
    r.overrides = value;
    rules.push_back(std::move(r));
  }
  return rules;
}

const DynamicRule* matching_rule(const std::vector<DynamicRule>& rules, const std::string& module) {
  for (const DynamicRule& r : rules)
    if (std::regex_search(module, r.pattern, std::regex_constants::match_continuous)) return &r;
  return nullptr;
}

model::LinearLoader gptq_loader(const json& qc, const std::string& where) {
  const int default_bits = int_field(qc, "bits", "w_bit", 4);
  const std::string fmt = qc.value("checkpoint_format", std::string("gptq"));
  NIBBLE_CHECK(fmt == "gptq" || fmt == "gptq_v2", where, ": checkpoint_format '", fmt,
               "' is not supported (gptq, gptq_v2)");
  const ZeroFormat zeros = fmt == "gptq_v2" ? ZeroFormat::v2 : ZeroFormat::v1;
  const int default_group_size = int_field(qc, "group_size", "q_group_size", 128);
  const bool default_sym = qc.value("sym", true);
  const std::vector<DynamicRule> dynamic = parse_dynamic(qc, where);
  // Writers known to mask v1 zero fields (so all-ones means z = 0).
  bool masked_v1 = false;
  if (qc.contains("meta") && qc["meta"].contains("quantizer"))
    for (const auto& q : qc["meta"]["quantizer"])
      if (q.is_string() && (q.get<std::string>().rfind("nibble", 0) == 0 ||
                            q.get<std::string>().rfind("gptqmodel", 0) == 0))
        masked_v1 = true;
  return [=](const io::WeightStore& store, const std::string& prefix, int64_t in,
             int64_t out) -> std::unique_ptr<model::Linear> {
    if (!store.has(prefix + ".qweight")) return model::load_dense_linear(store, prefix, in, out);
    int bits = default_bits, group_size = default_group_size;
    bool sym = default_sym;
    if (const DynamicRule* rule = matching_rule(dynamic, prefix)) {
      NIBBLE_CHECK(rule->quantized, prefix, ": has GPTQ tensors but ", where,
                   ".dynamic marks it unquantized");
      bits = rule->overrides.value("bits", bits);
      group_size = rule->overrides.value("group_size", group_size);
      sym = rule->overrides.value("sym", sym);
    }
    const TensorView* g_idx = store.has(prefix + ".g_idx") ? &store.get(prefix + ".g_idx") : nullptr;
    quant::GptqOutput q = decode_gptq(prefix, store.get(prefix + ".qweight"), store.get(prefix + ".qzeros"),
                                      store.get(prefix + ".scales"), g_idx, bits, zeros, masked_v1);
    NIBBLE_CHECK(q.cols == in && q.rows == out, prefix, ": GPTQ tensors are ", q.rows, " x ", q.cols,
                 ", the config says ", out, " x ", in);
    // A checkpoint that says sym but stores other zeros still runs, as asymmetric.
    bool all_mid = true;
    for (float z : q.zeros) all_mid = all_mid && z == float(1 << (bits - 1));
    return std::make_unique<quant::QuantizedLinear>(
        quant::to_quant_tensor(q, bits, group_size, sym && all_mid), prefix);
  };
}

// AutoAWQ checkpoints (specs/awq.md §8–§9): GEMM, or GEMV.
model::LinearLoader awq_loader(const json& qc, const std::string& where) {
  const int bits = int_field(qc, "bits", "w_bit", 4);
  NIBBLE_CHECK(bits == 4, where, ": AWQ checkpoints hold 4-bit weights, found bits ", bits);
  NIBBLE_CHECK(qc.value("zero_point", true), where,
               ": zero_point false is not a GEMM/GEMV checkpoint (AutoAWQ packs those with zero points only)");
  const int group_size = int_field(qc, "group_size", "q_group_size", 128);
  std::string version = qc.value("version", std::string("gemm"));
  std::transform(version.begin(), version.end(), version.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  NIBBLE_CHECK(version == "gemm" || version == "gemv", where, ": AWQ version '", version,
               "' is not supported (gemm, gemv)");
  const bool gemv = version == "gemv";
  return [=](const io::WeightStore& store, const std::string& prefix, int64_t in,
             int64_t out) -> std::unique_ptr<model::Linear> {
    if (!store.has(prefix + ".qweight")) return model::load_dense_linear(store, prefix, in, out);
    const TensorView &qweight = store.get(prefix + ".qweight"), &qzeros = store.get(prefix + ".qzeros"),
                     &scales = store.get(prefix + ".scales");
    quant::GptqOutput q = gemv ? decode_awq_gemv(prefix, qweight, qzeros, scales, group_size)
                               : decode_awq_gemm(prefix, qweight, qzeros, scales, group_size);
    NIBBLE_CHECK(q.cols == in && q.rows == out, prefix, ": AWQ tensors are ", q.rows, " x ", q.cols,
                 ", the config says ", out, " x ", in);
    return std::make_unique<quant::QuantizedLinear>(quant::to_quant_tensor(q, 4, group_size, false), prefix);
  };
}

}  // namespace

model::LinearLoader linear_loader_for(const io::ModelSource& source) {
  if (source.format == "gguf") return gguf_linear_loader(source);
  const json& raw = source.config.raw;
  json qc;
  std::string where = source.directory + "/config.json: quantization_config";
  if (raw.is_object() && raw.contains("quantization_config")) {
    qc = raw["quantization_config"];
  } else if (source.format == "hf" && file_exists(join_path(source.directory, "quant_config.json"))) {
    // Older AutoAWQ checkpoints keep their configuration only there.
    where = join_path(source.directory, "quant_config.json");
    qc = io::read_optional_json(where);
    if (qc.is_object() && !qc.contains("quant_method")) qc["quant_method"] = "awq";
  } else {
    return model::load_dense_linear;
  }
  NIBBLE_CHECK(qc.is_object(), where, " is not an object");
  const std::string method = qc.value("quant_method", std::string("gptq"));
  if (method == "awq") return awq_loader(qc, where);
  if (method == "bitsandbytes") return bnb_checkpoint_loader(source);
  NIBBLE_CHECK(method == "gptq", where, ": quant_method '", method, "' is not supported yet");
  return gptq_loader(qc, where);
}

}  // namespace nibble::formats
