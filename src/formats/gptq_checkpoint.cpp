#include "formats/gptq_checkpoint.h"

#include <sys/stat.h>

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "io/safetensors.h"

namespace nibble::formats {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* kTokenizerFiles[] = {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                                 "special_tokens_map.json", "generation_config.json",
                                 "added_tokens.json"};

std::vector<uint8_t> bytes_of(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  return std::vector<uint8_t>(b, b + n);
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  return bytes_of(v.data(), v.size() * sizeof(T));
}

void make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  NIBBLE_CHECK(!ec, dir, ": cannot create directory: ", ec.message());
}

}  // namespace

bool gptq_exportable(int64_t in, int64_t out) { return gptq_packable(in, out); }

GptqCheckpointWriter::GptqCheckpointWriter(const io::ModelSource& source, std::string out_dir,
                                           GptqExportConfig config, bool resume)
    : source_(source), out_(std::move(out_dir)), partial_(join_path(out_, ".partial")),
      config_(std::move(config)) {
  NIBBLE_CHECK(!file_exists(join_path(out_, "config.json")), out_,
               ": already holds a complete checkpoint (config.json); choose another -o or delete it");
  const std::string journal_path = join_path(partial_, "journal.json");
  json journal = {{"source", fs::absolute(source.path).string()},
                  {"quantization_config", quantization_config()}};
  if (is_directory(partial_)) {
    NIBBLE_CHECK(resume, out_, ": holds an interrupted quantization; pass --resume to continue it or delete ",
                 partial_);
    const json old = io::read_optional_json(journal_path);
    NIBBLE_CHECK(old == journal, journal_path,
                 ": the interrupted run used other options or another model; rerun with the same "
                 "ones or delete ", partial_);
    while (layers_done_ < source.config.num_layers && file_exists(partial_path(layers_done_)))
      ++layers_done_;
    return;
  }
  make_dir(partial_);
  write_text_file_atomically(journal_path, journal.dump(2));
}

std::string GptqCheckpointWriter::partial_path(int layer) const {
  char name[32];
  std::snprintf(name, sizeof name, "layer-%04d.safetensors", layer);
  return join_path(partial_, name);
}

std::string GptqCheckpointWriter::lm_head_path() const {
  return join_path(partial_, "lm_head.safetensors");
}

json GptqCheckpointWriter::quantization_config() const {
  json qc = {{"bits", config_.bits},
          {"group_size", config_.group_size},
          {"damp_percent", config_.damp},
          {"desc_act", config_.desc_act},
          {"static_groups", config_.static_groups},
          {"sym", config_.symmetric},
          {"true_sequential", true},
          {"model_name_or_path", nullptr},
          {"model_file_base_name", nullptr},
          {"quant_method", "gptq"},
          {"checkpoint_format", config_.symmetric ? "gptq" : "gptq_v2"},
          {"lm_head", config_.lm_head_bits != 0},
          {"meta", {{"quantizer", {"nibble:0.1.0"}}, {"method", config_.method}}}};
  if (config_.lm_head_bits != 0 && config_.lm_head_bits != config_.bits)
    qc["dynamic"] = {{"+:lm_head", {{"bits", config_.lm_head_bits}}}};
  return qc;
}

namespace {

void add_gptq_tensors(io::SafetensorsWriter& w, const std::string& prefix, const quant::GptqOutput& q,
                      int bits, ZeroFormat zf) {
  GptqTensors t = encode_gptq(q, bits, zf);
  w.add(prefix + ".qweight", DType::I32, {t.k / 32 * t.bits, t.n}, bytes_of(t.qweight));
  w.add(prefix + ".qzeros", DType::I32, {t.groups, t.n / 32 * t.bits}, bytes_of(t.qzeros));
  w.add(prefix + ".scales", DType::F16, {t.groups, t.n}, bytes_of(t.scales));
  w.add(prefix + ".g_idx", DType::I32, {t.k}, bytes_of(t.g_idx));
}

}  // namespace

void GptqCheckpointWriter::write_layer(const quant::LayerResult& layer) {
  io::SafetensorsWriter w;
  const ZeroFormat zf = config_.symmetric ? ZeroFormat::v1 : ZeroFormat::v2;
  for (const auto& [prefix, q] : layer.linears) add_gptq_tensors(w, prefix, q, config_.bits, zf);
  w.set_metadata("format", "pt");
  w.write(partial_path(layer.layer));
  layers_done_ = layer.layer + 1;
}

bool GptqCheckpointWriter::has_lm_head() const { return file_exists(lm_head_path()); }

void GptqCheckpointWriter::write_lm_head(const quant::GptqOutput& lm_head) {
  NIBBLE_CHECK(config_.lm_head_bits != 0, "write_lm_head: the export keeps lm_head dense");
  io::SafetensorsWriter w;
  add_gptq_tensors(w, "lm_head", lm_head, config_.lm_head_bits,
                   config_.symmetric ? ZeroFormat::v1 : ZeroFormat::v2);
  w.set_metadata("format", "pt");
  w.write(lm_head_path());
}

quant::LayerResult GptqCheckpointWriter::read_layer(int layer) const {
  io::SafetensorsFile f(partial_path(layer));
  quant::LayerResult r;
  r.layer = layer;
  const ZeroFormat zf = config_.symmetric ? ZeroFormat::v1 : ZeroFormat::v2;
  for (const auto& [name, view] : f.tensors()) {
    const std::string suffix = ".qweight";
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix))
      continue;
    const std::string prefix = name.substr(0, name.size() - suffix.size());
    r.linears[prefix] = decode_gptq(prefix, view, f.tensor(prefix + ".qzeros"),
                                    f.tensor(prefix + ".scales"), &f.tensor(prefix + ".g_idx"),
                                    config_.bits, zf, true);
  }
  return r;
}

size_t GptqCheckpointWriter::finish(size_t max_shard_bytes) {
  NIBBLE_CHECK(layers_done_ == source_.config.num_layers, "only ", layers_done_, " of ",
               source_.config.num_layers, " layers are quantized");
  NIBBLE_CHECK(config_.lm_head_bits == 0 || has_lm_head(), "lm_head is not quantized yet");
  io::SafetensorsWriter w;
  std::vector<std::unique_ptr<io::SafetensorsFile>> parts;
  auto copy_lazily = [&](const std::string& name, const TensorView& v) {
    w.add_lazy(name, v.dtype, v.shape,
               [v](uint8_t* dst) { std::memcpy(dst, v.data, v.nbytes); });
  };
  std::vector<std::string> part_paths;
  for (int l = 0; l < layers_done_; ++l) part_paths.push_back(partial_path(l));
  if (config_.lm_head_bits != 0) part_paths.push_back(lm_head_path());
  for (const std::string& path : part_paths) {
    parts.push_back(std::make_unique<io::SafetensorsFile>(path));
    for (const auto& [name, view] : parts.back()->tensors()) copy_lazily(name, view);
  }
  // Everything the layers did not replace keeps its name and dtype.
  for (const std::string& name : source_.weights->names()) {
    const std::string stem = name.size() > 7 ? name.substr(0, name.size() - 7) : "";
    if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 && w.has(stem + ".qweight"))
      continue;
    copy_lazily(name, source_.weights->get(name));
  }
  w.set_metadata("format", "pt");
  w.write_sharded(out_, max_shard_bytes);
  for (const char* file : kTokenizerFiles) {
    const std::string from = join_path(source_.directory, file);
    if (file_exists(from)) write_text_file_atomically(join_path(out_, file), read_text_file(from));
  }
  const json qc = quantization_config();
  write_text_file_atomically(join_path(out_, "quantize_config.json"), qc.dump(2));
  json config = source_.config.raw.is_object() ? source_.config.raw : json::object();
  config["quantization_config"] = qc;
  // A quantized lm_head is its own tensor, no longer the embedding's twin.
  if (config_.lm_head_bits != 0) config["tie_word_embeddings"] = false;
  config["quantization_config"]["nibble"] = config_.extra;
  write_text_file_atomically(join_path(out_, "config.json"), config.dump(2));
  parts.clear();
  fs::remove_all(partial_);
  return w.data_bytes();
}

}  // namespace nibble::formats
