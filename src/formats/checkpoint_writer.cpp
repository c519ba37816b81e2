#include "formats/checkpoint_writer.h"

#include <cstring>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"

namespace nibble::formats {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* kTokenizerFiles[] = {"tokenizer.model", "tokenizer.json", "tokenizer_config.json",
                                 "special_tokens_map.json", "generation_config.json",
                                 "added_tokens.json"};

void make_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  NIBBLE_CHECK(!ec, dir, ": cannot create directory: ", ec.message());
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

CheckpointWriter::CheckpointWriter(const io::ModelSource& source, std::string out_dir,
                                   std::unique_ptr<const LinearCodec> codec, json extra, bool resume)
    : source_(source), out_(std::move(out_dir)), partial_(join_path(out_, ".partial")),
      codec_(std::move(codec)), extra_(std::move(extra)) {
  NIBBLE_CHECK(!file_exists(join_path(out_, "config.json")), out_,
               ": already holds a complete checkpoint (config.json); choose another -o or delete it");
  const std::string journal_path = join_path(partial_, "journal.json");
  json journal = {{"source", fs::absolute(source.path).string()},
                  {"quantization_config", quantization_config()},
                  {"nibble", extra_}};
  if (is_directory(partial_)) {
    NIBBLE_CHECK(resume, out_, ": holds an interrupted quantization; pass --resume to continue it or delete ",
                 partial_);
    const json old = io::read_optional_json(journal_path);
    if (old != journal) {
      std::string changed;  // JSON pointers of what differs, e.g. /nibble/lora_adapter/digest
      for (const json& op : json::diff(old, journal)) {
        const std::string path = op.value("path", "");
        changed += (changed.empty() ? "" : ", ") + (path.empty() ? "/" : path);
      }
      fail(journal_path, ": the interrupted run used other options or another model (", changed,
           " changed); rerun with the same ones or delete ", partial_);
    }
    while (layers_done_ < source.config.num_layers && file_exists(partial_path(layers_done_)))
      ++layers_done_;
    return;
  }
  make_dir(partial_);
  write_text_file_atomically(journal_path, journal.dump(2));
}

std::string CheckpointWriter::partial_path(int layer) const {
  char name[32];
  std::snprintf(name, sizeof name, "layer-%04d.safetensors", layer);
  return join_path(partial_, name);
}

void CheckpointWriter::write_layer(const quant::LayerResult& layer) {
  io::SafetensorsWriter w;
  for (const auto& [prefix, q] : layer.linears) codec_->encode(prefix, q, w);
  for (const auto& [name, values] : layer.parameters) {
    std::vector<uint8_t> bytes(values.size() * sizeof(float));
    std::memcpy(bytes.data(), values.data(), bytes.size());
    w.add(name, DType::F32, {int64_t(values.size())}, std::move(bytes));
  }
  w.set_metadata("format", "pt");
  w.write(partial_path(layer.layer));
  layers_done_ = layer.layer + 1;
}

std::string CheckpointWriter::lm_head_path() const { return join_path(partial_, "lm_head.safetensors"); }

bool CheckpointWriter::has_lm_head() const { return file_exists(lm_head_path()); }

void CheckpointWriter::write_lm_head(const quant::GptqOutput& lm_head) {
  io::SafetensorsWriter w;
  codec_->encode("lm_head", lm_head, w);
  w.set_metadata("format", "pt");
  w.write(lm_head_path());
}

quant::LayerResult CheckpointWriter::read_layer(int layer) const {
  io::SafetensorsFile f(partial_path(layer));
  quant::LayerResult r;
  r.layer = layer;
  const std::vector<std::string> suffixes = codec_->suffixes();
  for (const auto& [name, view] : f.tensors())
    if (ends_with(name, suffixes[0])) {
      const std::string prefix = name.substr(0, name.size() - suffixes[0].size());
      r.linears[prefix] = codec_->decode(prefix, f);
    }
  for (const auto& [name, view] : f.tensors()) {
    bool part_of_linear = false;
    for (const std::string& suffix : suffixes)
      part_of_linear = part_of_linear ||
                       (ends_with(name, suffix) && r.linears.count(name.substr(0, name.size() - suffix.size())));
    if (part_of_linear) continue;
    std::vector<float> values(static_cast<size_t>(view.numel()));
    convert_to_f32(view.dtype, view.data, values.data(), values.size());
    r.parameters[name] = std::move(values);
  }
  return r;
}

size_t CheckpointWriter::finish(size_t max_shard_bytes) {
  NIBBLE_CHECK(layers_done_ == source_.config.num_layers, "only ", layers_done_, " of ",
               source_.config.num_layers, " layers are quantized");
  io::SafetensorsWriter w;
  std::vector<std::unique_ptr<io::SafetensorsFile>> parts;
  auto copy_lazily = [&](const std::string& name, const TensorView& v) {
    w.add_lazy(name, v.dtype, v.shape,
               [v](uint8_t* dst) { std::memcpy(dst, v.data, v.nbytes); });
  };
  std::vector<std::string> part_paths;
  for (int l = 0; l < layers_done_; ++l) part_paths.push_back(partial_path(l));
  if (has_lm_head()) part_paths.push_back(lm_head_path());
  for (const std::string& path : part_paths) {
    parts.push_back(std::make_unique<io::SafetensorsFile>(path));
    for (const auto& [name, view] : parts.back()->tensors()) copy_lazily(name, view);
  }
  // Everything the layers did not replace keeps its name and dtype.
  const std::string marker = codec_->suffixes()[0];
  for (const std::string& name : source_.weights->names()) {
    if (w.has(name)) continue;  // a changed parameter
    if (ends_with(name, ".weight") && w.has(name.substr(0, name.size() - 7) + marker)) continue;
    copy_lazily(name, source_.weights->get(name));
  }
  w.set_metadata("format", "pt");
  w.write_sharded(out_, max_shard_bytes);
  for (const char* file : kTokenizerFiles) {
    const std::string from = join_path(source_.directory, file);
    if (file_exists(from)) write_text_file_atomically(join_path(out_, file), read_text_file(from));
  }
  write_text_file_atomically(join_path(out_, codec_->config_file_name()), codec_->config_file().dump(2));
  json config = source_.config.raw.is_object() ? source_.config.raw : json::object();
  config["quantization_config"] = quantization_config();
  config["quantization_config"]["nibble"] = extra_;
  // A quantized lm_head is its own tensor, no longer the embedding's twin.
  if (has_lm_head()) config["tie_word_embeddings"] = false;
  write_text_file_atomically(join_path(out_, "config.json"), config.dump(2));
  parts.clear();
  fs::remove_all(partial_);
  return w.data_bytes();
}

}  // namespace nibble::formats
