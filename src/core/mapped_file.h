// A read-only memory map of a whole file. Weights are read lazily through
// it: pages come from disk when a layer first touches them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace nibble {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws Error naming the path
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Drops the pages of [p, p + n) (whole pages around it) from this
  // process's resident set; the data stays readable and comes back from the
  // page cache or the file on the next touch. Streaming a model layer by
  // layer would otherwise keep every layer it read counted in its RSS.
  void release(const void* p, size_t n) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace nibble
