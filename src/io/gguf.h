// GGUF v3: llama.cpp's single-file container. A header ("GGUF", version,
// tensor and key counts), typed key/value metadata, tensor infos (name, dims,
// ggml type, offset), then the data section aligned to `general.alignment`
// (default 32). Byte-level facts are in shared/specs/gguf.md.
//
// Dimension order: GGUF stores `ne`, with ne[0] the fastest-varying (row)
// length. A PyTorch/safetensors matrix of shape [out, in] appears as
// ne = [in, out]. Everything named `ne` below is in GGUF order; `shape()`
// gives the row-major (PyTorch) order.
//
// The reader maps the file and validates every byte it will hand out before
// returning: any malformed input is a nibble::Error, never a crash, and the
// memory it allocates is bounded by a small multiple of the file size.
// Strings, string arrays and numeric arrays are views into the mapping, so
// values read from a GgufFile live only as long as the file.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/mapped_file.h"

namespace nibble::io {

// ---------------------------------------------------------------- ggml types

// Tensor element types by their on-disk id (ggml.h). Retired ids (4, 5,
// 31-33, 36-38) are absent and read as unknown.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21,
  IQ2_S = 22, IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28,
  IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct GgmlTypeInfo {
  GgmlType type;
  const char* name;     // "Q4_K", as ggml's type_name (upper case here)
  int64_t block_size;   // elements per block
  uint64_t type_size;   // bytes per block
};

// nullptr for an id that is not a known ggml type.
const GgmlTypeInfo* ggml_type_info(uint32_t id);
const GgmlTypeInfo& ggml_type_info(GgmlType type);
const char* ggml_type_name(GgmlType type);
// Bytes of a tensor of `ne` elements; throws Error if ne[0] is not a
// multiple of the block size, a dim is not positive, or the size overflows.
uint64_t ggml_nbytes(GgmlType type, std::span<const int64_t> ne);

// ---------------------------------------------------------------- metadata

enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

const char* gguf_value_type_name(GgufValueType type);
bool gguf_value_type_is_valid(uint32_t id);
// Bytes of one element of a fixed-size type; 0 for STRING and ARRAY.
size_t gguf_value_type_size(GgufValueType type);

// One metadata value: a scalar, a string, or an array of one element type
// (arrays of arrays allowed; each inner array has its own element type).
// Values made by the factories own their storage; values read from a file
// point into its mapping.
class GgufValue {
 public:
  GgufValue() = default;  // UINT8 0

  static GgufValue uint8(uint8_t v);
  static GgufValue int8(int8_t v);
  static GgufValue uint16(uint16_t v);
  static GgufValue int16(int16_t v);
  static GgufValue uint32(uint32_t v);
  static GgufValue int32(int32_t v);
  static GgufValue uint64(uint64_t v);
  static GgufValue int64(int64_t v);
  static GgufValue float32(float v);
  static GgufValue float64(double v);
  static GgufValue boolean(bool v);
  static GgufValue string(std::string_view v);

  // Arrays of a fixed-size element type, from C++ values. T picks the type:
  // uint8_t..int64_t, float (FLOAT32), double (FLOAT64).
  template <class T>
  static GgufValue array(std::span<const T> values);
  template <class T>
  static GgufValue array(const std::vector<T>& values) { return array(std::span<const T>(values)); }
  static GgufValue bool_array(const std::vector<bool>& values);
  static GgufValue string_array(std::span<const std::string> values);
  static GgufValue string_array(std::span<const std::string_view> values);
  // An array of arrays; every item must itself be an array.
  static GgufValue array_of_arrays(std::vector<GgufValue> items);

  GgufValueType type() const { return type_; }
  bool is_array() const { return type_ == GgufValueType::ARRAY; }
  bool is_integer() const;
  bool is_float() const { return type_ == GgufValueType::FLOAT32 || type_ == GgufValueType::FLOAT64; }

  // Scalars. Each throws Error("expected ..., found ...") on a type mismatch.
  std::string_view as_string() const;
  int64_t as_int() const;     // any integer type; UINT64 above INT64_MAX throws
  uint64_t as_uint() const;   // any integer type; negative values throw
  double as_float() const;    // FLOAT32 or FLOAT64
  bool as_bool() const;

  // Arrays.
  GgufValueType array_type() const;          // element type; throws if not an array
  uint64_t size() const;                     // element count; throws if not an array
  const std::vector<std::string_view>& as_strings() const;  // array of STRING
  std::vector<int64_t> as_ints() const;      // array of any integer type
  std::vector<double> as_floats() const;     // array of FLOAT32 / FLOAT64
  std::vector<bool> as_bools() const;        // array of BOOL
  const std::vector<GgufValue>& as_arrays() const;  // array of ARRAY
  // The little-endian element bytes of an array of a fixed-size type.
  std::span<const uint8_t> raw_elements() const;

  // Same type and same contents (FLOAT compared bitwise).
  bool operator==(const GgufValue& other) const;
  // A copy that owns all its storage (safe to keep after the source file closes).
  GgufValue to_owned() const;
  bool borrowed() const { return borrowed_; }
  // Short human-readable rendering ("UINT32 7", "ARRAY[STRING] x 32000").
  std::string describe() const;

 private:
  friend class GgufReaderImpl;
  friend class GgufValueCodec;

  GgufValueType type_ = GgufValueType::UINT8;
  GgufValueType elem_type_ = GgufValueType::UINT8;  // arrays only
  union {
    uint64_t u;
    int64_t i;
    double f;
  } scalar_{0};                                 // integers/bool widened, floats as double
  std::string_view str_;                        // STRING
  const uint8_t* raw_ = nullptr;                // fixed-size array elements
  uint64_t count_ = 0;                          // array element count
  std::vector<std::string_view> strings_;       // array of STRING
  std::vector<GgufValue> items_;                // array of ARRAY
  std::shared_ptr<const std::string> storage_;  // owned bytes behind str_/raw_/strings_
  bool borrowed_ = false;                       // points into a mapping it does not own
};

// ---------------------------------------------------------------- reader

struct GgufTensorInfo {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;      // GGUF order: ne[0] = row length (fastest varying)
  uint64_t offset = 0;          // from the start of the data section
  uint64_t nbytes = 0;
  const uint8_t* data = nullptr;  // into the mapping

  int64_t numel() const;
  int64_t row_length() const { return ne.empty() ? 1 : ne[0]; }
  int64_t n_rows() const { return numel() / row_length(); }
  std::vector<int64_t> shape() const { return {ne.rbegin(), ne.rend()}; }  // row-major order
};

class GgufFile {
 public:
  static constexpr uint32_t kDefaultAlignment = 32;
  static constexpr int kMaxDims = 4;
  static constexpr int kMaxArrayDepth = 8;   // nesting of arrays of arrays
  static constexpr size_t kMaxNameLength = 63;  // tensor names (ggml's GGML_MAX_NAME - 1)

  explicit GgufFile(const std::string& path);  // maps and validates; throws Error naming path
  // Parses `size` bytes that the caller keeps alive for the object's lifetime.
  // `label` stands for the path in error messages.
  static GgufFile from_memory(const uint8_t* data, size_t size, const std::string& label);

  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  ~GgufFile();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  // File offset of the data section: the header end rounded up to the
  // alignment. A file without tensors may end before it.
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return size_; }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return metadata_; }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  const GgufValue* find(std::string_view key) const;  // nullptr if absent
  const GgufValue& get(std::string_view key) const;   // throws if absent
  // Typed getters: throw Error naming the file and key if the key is absent
  // or has another type.
  std::string_view get_string(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  uint64_t get_uint(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::vector<std::string_view>& get_strings(std::string_view key) const;
  std::vector<int64_t> get_ints(std::string_view key) const;
  std::vector<double> get_floats(std::string_view key) const;

  // Tensor infos in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  const GgufTensorInfo& tensor(std::string_view name) const;  // throws if absent

 private:
  friend class GgufReaderImpl;
  GgufFile() = default;
  void parse(const uint8_t* data, size_t size);

  std::unique_ptr<MappedFile> file_;
  std::string path_;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  uint64_t size_ = 0;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t, std::less<>> key_index_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// ---------------------------------------------------------------- writer

// Receives one tensor's bytes from a producer callback at write time.
class GgufDataSink {
 public:
  virtual ~GgufDataSink() = default;
  virtual void write(const void* data, size_t n) = 0;
};

// Builds a GGUF v3 file: metadata in the order added, tensors in the order
// added with offsets contiguous and padded to the alignment (as llama.cpp
// writes them; llama.cpp's reader requires exactly that layout). Tensor data
// is either owned, borrowed (caller keeps it alive until write()), or
// produced by a callback during write(), so a large model is never held
// twice. Trailing dimensions of 1 are dropped from the stored n_dims, as
// llama.cpp's writer does (a [2, 1] tensor is stored with n_dims 1).
class GgufWriter {
 public:
  using Producer = std::function<void(GgufDataSink&)>;

  // Keys must be unique and non-empty. A value read from a GgufFile is copied.
  void add(const std::string& key, GgufValue value);
  // Adds or replaces `general.alignment` (UINT32, a power of two).
  void set_alignment(uint32_t alignment);
  uint32_t alignment() const { return alignment_; }

  void add_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                  std::vector<uint8_t> bytes);
  void add_tensor_view(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                       std::span<const uint8_t> bytes);
  // `produce` must write exactly ggml_nbytes(type, ne) bytes to the sink.
  void add_tensor_streamed(const std::string& name, GgmlType type, std::vector<int64_t> ne,
                           Producer produce);

  size_t tensor_count() const { return tensors_.size(); }
  // Bytes the finished file will have.
  uint64_t file_size() const;
  // Writes atomically (temporary file + rename); throws Error naming path.
  void write(const std::string& path) const;
  // The header (everything before the data section, padding included).
  std::string header_bytes() const;

 private:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    uint64_t nbytes;
    std::vector<uint8_t> owned;     // add_tensor
    std::span<const uint8_t> view;  // add_tensor_view
    Producer produce;
  };
  Tensor make_tensor(const std::string& name, GgmlType type, std::vector<int64_t> ne) const;
  void add_tensor_entry(Tensor t);
  uint64_t padded(uint64_t n) const { return (n + alignment_ - 1) / alignment_ * alignment_; }

  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::map<std::string, size_t, std::less<>> key_index_;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
  uint32_t alignment_ = GgufFile::kDefaultAlignment;
};

}  // namespace nibble::io
