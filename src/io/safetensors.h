// safetensors: an 8-byte little-endian header length, a JSON header mapping
// tensor names to {dtype, shape, data_offsets}, then the raw data. The
// reader maps the file and validates every entry before anything reads it:
// offsets inside the data region, sizes matching dtype x shape, no overlaps.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "core/tensor_view.h"

namespace nibble::io {

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // throws Error naming path and tensor

  const std::string& path() const { return file_->path(); }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorView& tensor(const std::string& name) const;
  // Drops a tensor's pages from the resident set (MappedFile::release).
  void release_view(const TensorView& view) const { file_->release(view.data, view.nbytes); }

 private:
  std::unique_ptr<MappedFile> file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

// Collects tensors, then writes safetensors files atomically. Tensors are
// written in name order (as the Python library does) with 8-byte alignment
// of the data region. A tensor's bytes may be given up front or produced by
// a callback at write time, so writing a large model holds one tensor at a
// time in memory.
class SafetensorsWriter {
 public:
  using Fill = std::function<void(uint8_t* dst)>;  // writes exactly the tensor's bytes

  void add(const std::string& name, DType dtype, std::vector<int64_t> shape,
           std::vector<uint8_t> bytes);
  void add_copy(const std::string& name, const TensorView& view);
  void add_lazy(const std::string& name, DType dtype, std::vector<int64_t> shape, Fill fill);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  size_t data_bytes() const;
  bool empty() const { return tensors_.empty(); }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  void write(const std::string& path) const;

  // Writes <dir>/model.safetensors, or, past max_shard_bytes, the shards
  // model-0000i-of-0000N.safetensors plus model.safetensors.index.json
  // (written last, so a directory with an index has all its shards).
  void write_sharded(const std::string& dir, size_t max_shard_bytes) const;

 private:
  struct Entry {
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
    Fill fill;
    size_t size() const;
  };
  void write_entries(const std::string& path, const std::vector<const std::string*>& names) const;
  std::map<std::string, Entry> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace nibble::io
