#include "io/weight_store.h"

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/files.h"

namespace nibble::io {

void WeightStore::add_file(std::shared_ptr<SafetensorsFile> file) {
  for (const auto& [name, view] : file->tensors()) {
    NIBBLE_CHECK(!views_.count(name), file->path(), ": tensor '", name, "' also appears in ",
                 origins_[name]);
    views_[name] = view;
    origins_[name] = file->path();
    mapped_from_[name] = file.get();
  }
  files_.push_back(std::move(file));
}

void WeightStore::add_owned(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            std::vector<uint8_t> bytes) {
  owned_.push_back(std::make_unique<std::vector<uint8_t>>(std::move(bytes)));
  TensorView v;
  v.dtype = dtype;
  v.shape = std::move(shape);
  v.data = owned_.back()->data();
  v.nbytes = owned_.back()->size();
  views_[name] = std::move(v);
  origins_[name] = "";
}

void WeightStore::add_view(const std::string& name, TensorView view,
                           std::shared_ptr<const void> owner, const std::string& origin) {
  NIBBLE_CHECK(!views_.count(name), origin, ": tensor '", name, "' appears twice");
  owners_.push_back(std::move(owner));
  views_[name] = std::move(view);
  origins_[name] = origin;
}

const TensorView& WeightStore::get(const std::string& name) const {
  auto it = views_.find(name);
  if (it == views_.end()) fail("missing tensor '", name, "'");
  return it->second;
}

std::vector<std::string> WeightStore::names() const {
  std::vector<std::string> out;
  for (const auto& [name, v] : views_) out.push_back(name);
  return out;
}

std::string WeightStore::origin(const std::string& name) const {
  auto it = origins_.find(name);
  return it == origins_.end() ? "" : it->second;
}

void WeightStore::release(const std::string& name) const {
  auto it = mapped_from_.find(name);
  if (it != mapped_from_.end()) it->second->release_view(get(name));
}

size_t WeightStore::total_bytes() const {
  size_t n = 0;
  for (const auto& [name, v] : views_) n += v.nbytes;
  return n;
}

WeightStore open_hf_weights(const std::string& dir) {
  WeightStore store;
  const std::string single = join_path(dir, "model.safetensors");
  const std::string index = join_path(dir, "model.safetensors.index.json");
  if (file_exists(single)) {
    store.add_file(std::make_shared<SafetensorsFile>(single));
    return store;
  }
  NIBBLE_CHECK(file_exists(index), dir, ": no model.safetensors or model.safetensors.index.json");
  auto j = nlohmann::json::parse(read_text_file(index), nullptr, false);
  NIBBLE_CHECK(!j.is_discarded() && j.is_object(), index, ": not valid JSON");
  NIBBLE_CHECK(j.contains("weight_map") && j["weight_map"].is_object(), index,
               ": missing object 'weight_map'");
  std::set<std::string> shards;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    NIBBLE_CHECK(it.value().is_string(), index, ": weight_map['", it.key(), "'] is not a string");
    const std::string shard = it.value().get<std::string>();
    NIBBLE_CHECK(shard.find('/') == std::string::npos && shard.find("..") == std::string::npos,
                 index, ": shard name '", shard, "' must be a file in the model directory");
    shards.insert(shard);
  }
  for (const std::string& shard : shards)
    store.add_file(std::make_shared<SafetensorsFile>(join_path(dir, shard)));
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it)
    NIBBLE_CHECK(store.has(it.key()), index, ": tensor '", it.key(), "' is not in ",
                 it.value().get<std::string>());
  return store;
}

}  // namespace nibble::io
