#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"

namespace nibble::io {

using nlohmann::json;

SafetensorsFile::SafetensorsFile(const std::string& path)
    : file_(std::make_unique<MappedFile>(path)) {
  const uint8_t* base = file_->data();
  const size_t size = file_->size();
  NIBBLE_CHECK(size >= 8, path, ": truncated safetensors file (", size, " bytes, need at least 8)");
  uint64_t header_len;
  std::memcpy(&header_len, base, 8);
  NIBBLE_CHECK(header_len <= size - 8, path, ": header length ", header_len,
               " runs past the end of the file (", size, " bytes)");
  const std::string_view header(reinterpret_cast<const char*>(base + 8), header_len);
  json j = json::parse(header, nullptr, false);
  NIBBLE_CHECK(!j.is_discarded(), path, ": header is not valid JSON");
  NIBBLE_CHECK(j.is_object(), path, ": header is not a JSON object");

  const uint8_t* data = base + 8 + header_len;
  const size_t data_size = size - 8 - header_len;
  struct Range {
    uint64_t begin, end;
    std::string name;
  };
  std::vector<Range> ranges;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      NIBBLE_CHECK(e.is_object(), path, ": __metadata__ is not an object");
      for (auto m = e.begin(); m != e.end(); ++m) {
        NIBBLE_CHECK(m.value().is_string(), path, ": __metadata__.", m.key(), " is not a string");
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = path + ": tensor '" + name + "'";
    NIBBLE_CHECK(e.is_object(), where, ": entry is not an object");
    NIBBLE_CHECK(e.contains("dtype") && e["dtype"].is_string(), where, ": missing dtype");
    NIBBLE_CHECK(e.contains("shape") && e["shape"].is_array(), where, ": missing shape");
    NIBBLE_CHECK(e.contains("data_offsets") && e["data_offsets"].is_array() &&
                     e["data_offsets"].size() == 2,
                 where, ": data_offsets must be [begin, end]");
    const auto dtype = dtype_from_name(e["dtype"].get<std::string>());
    NIBBLE_CHECK(dtype.has_value(), where, ": unsupported dtype ", e["dtype"].get<std::string>());
    TensorView view;
    view.dtype = *dtype;
    for (const json& d : e["shape"]) {
      NIBBLE_CHECK(d.is_number_unsigned(), where, ": shape entries must be non-negative integers");
      view.shape.push_back(d.get<int64_t>());
    }
    for (const json& o : e["data_offsets"])
      NIBBLE_CHECK(o.is_number_unsigned(), where, ": data_offsets must be non-negative integers");
    const uint64_t begin = e["data_offsets"][0].get<uint64_t>();
    const uint64_t end = e["data_offsets"][1].get<uint64_t>();
    NIBBLE_CHECK(begin <= end && end <= data_size, where, ": data_offsets [", begin, ", ", end,
                 "] outside the data region of ", data_size, " bytes");
    int64_t numel;
    try {
      numel = shape_numel(view.shape);
    } catch (const Error& err) {
      fail(where, ": ", err.what());
    }
    NIBBLE_CHECK(uint64_t(numel) * dtype_size(view.dtype) == end - begin, where, ": shape ",
                 view.shape_string(), " of ", dtype_name(view.dtype), " needs ",
                 uint64_t(numel) * dtype_size(view.dtype), " bytes but data_offsets span ",
                 end - begin);
    view.data = data + begin;
    view.nbytes = end - begin;
    ranges.push_back({begin, end, name});
    tensors_[name] = std::move(view);
  }
  // Like the reference implementation, require the tensors to tile the data
  // region exactly: a hole or a trailing byte means the offsets are wrong
  // (e.g. a header length off by one), and reading on would give garbage.
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin < b.begin; });
  uint64_t covered = 0;
  for (const Range& r : ranges) {
    NIBBLE_CHECK(r.begin >= covered, path, ": tensor '", r.name,
                 "' overlaps the tensor before it in the data region");
    NIBBLE_CHECK(r.begin == covered, path, ": ", r.begin - covered,
                 " bytes of the data region before tensor '", r.name, "' belong to no tensor");
    covered = r.end;
  }
  NIBBLE_CHECK(covered == data_size, path, ": the data region has ", data_size,
               " bytes but the tensors cover ", covered, " (header length wrong?)");
}

const TensorView& SafetensorsFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(path(), ": no tensor named '", name, "'");
  return it->second;
}

size_t SafetensorsWriter::Entry::size() const {
  return fill ? size_t(shape_numel(shape)) * dtype_size(dtype) : bytes.size();
}

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            std::vector<uint8_t> bytes) {
  NIBBLE_CHECK(size_t(shape_numel(shape)) * dtype_size(dtype) == bytes.size(), "tensor '", name,
               "': ", bytes.size(), " bytes do not match its shape");
  tensors_[name] = Entry{dtype, std::move(shape), std::move(bytes), nullptr};
}

void SafetensorsWriter::add_copy(const std::string& name, const TensorView& view) {
  const auto* p = static_cast<const uint8_t*>(view.data);
  add(name, view.dtype, view.shape, std::vector<uint8_t>(p, p + view.nbytes));
}

void SafetensorsWriter::add_lazy(const std::string& name, DType dtype, std::vector<int64_t> shape,
                                 Fill fill) {
  shape_numel(shape);  // validates
  tensors_[name] = Entry{dtype, std::move(shape), {}, std::move(fill)};
}

size_t SafetensorsWriter::data_bytes() const {
  size_t n = 0;
  for (const auto& [name, e] : tensors_) n += e.size();
  return n;
}

void SafetensorsWriter::write_entries(const std::string& path,
                                      const std::vector<const std::string*>& names) const {
  json header = json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const std::string* name : names) {
    const Entry& e = tensors_.at(*name);
    header[*name] = {{"dtype", std::string(dtype_name(e.dtype))},
                     {"shape", e.shape},
                     {"data_offsets", {offset, offset + e.size()}}};
    offset += e.size();
  }
  std::string text = header.dump();
  text.resize((text.size() + 8 + 7) / 8 * 8 - 8, ' ');  // data starts 8-byte aligned
  const uint64_t len = text.size();
  write_file_atomically(path, [&](std::FILE* f) {
    write_bytes(f, &len, 8, path);
    write_bytes(f, text.data(), text.size(), path);
    std::vector<uint8_t> buffer;
    for (const std::string* name : names) {
      const Entry& e = tensors_.at(*name);
      if (!e.fill) {
        write_bytes(f, e.bytes.data(), e.bytes.size(), path);
        continue;
      }
      buffer.assign(e.size(), 0);
      e.fill(buffer.data());
      write_bytes(f, buffer.data(), buffer.size(), path);
    }
  });
}

void SafetensorsWriter::write(const std::string& path) const {
  std::vector<const std::string*> names;
  for (const auto& [name, e] : tensors_) names.push_back(&name);
  write_entries(path, names);
}

void SafetensorsWriter::write_sharded(const std::string& dir, size_t max_shard_bytes) const {
  std::vector<std::vector<const std::string*>> shards(1);
  size_t in_shard = 0;
  for (const auto& [name, e] : tensors_) {
    if (in_shard > 0 && in_shard + e.size() > max_shard_bytes) {
      shards.emplace_back();
      in_shard = 0;
    }
    shards.back().push_back(&name);
    in_shard += e.size();
  }
  if (shards.size() == 1) {
    write_entries(join_path(dir, "model.safetensors"), shards[0]);
    return;
  }
  json weight_map = json::object();
  char file[64];
  for (size_t i = 0; i < shards.size(); ++i) {
    std::snprintf(file, sizeof file, "model-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    write_entries(join_path(dir, file), shards[i]);
    for (const std::string* name : shards[i]) weight_map[*name] = file;
  }
  json index = {{"metadata", {{"total_size", data_bytes()}}}, {"weight_map", weight_map}};
  write_text_file_atomically(join_path(dir, "model.safetensors.index.json"), index.dump(2));
}

}  // namespace nibble::io
