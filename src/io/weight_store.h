// Every weight of a model by its canonical (Hugging Face) name, e.g.
// "model.layers.3.mlp.down_proj.weight". Views point into memory-mapped
// files the store keeps open, or into buffers the store owns (converted
// formats such as llama2.c).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/tensor_view.h"
#include "io/safetensors.h"

namespace nibble::io {

class WeightStore {
 public:
  void add_file(std::shared_ptr<SafetensorsFile> file);  // throws on duplicate names
  void add_owned(const std::string& name, DType dtype, std::vector<int64_t> shape,
                 std::vector<uint8_t> bytes);
  // A view into memory that `owner` keeps alive (a mapped GGUF file).
  void add_view(const std::string& name, TensorView view, std::shared_ptr<const void> owner,
                const std::string& origin);

  bool has(const std::string& name) const { return views_.count(name) != 0; }
  const TensorView& get(const std::string& name) const;  // throws Error naming the tensor
  std::vector<std::string> names() const;
  // The file a tensor came from ("" for owned buffers), for error messages.
  std::string origin(const std::string& name) const;
  size_t total_bytes() const;
  // Drops a mapped tensor's pages from the resident set once a streaming
  // reader (the quantizer) is done with it; no-op for owned buffers.
  void release(const std::string& name) const;

 private:
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> owned_;
  std::vector<std::shared_ptr<const void>> owners_;
  std::map<std::string, TensorView> views_;
  std::map<std::string, std::string> origins_;
  std::map<std::string, const SafetensorsFile*> mapped_from_;
};

// Opens model.safetensors, or the shards listed by model.safetensors.index.json.
WeightStore open_hf_weights(const std::string& dir);

}  // namespace nibble::io
