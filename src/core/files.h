// Small file helpers. Outputs are written to "<path>.tmp-<pid>" and renamed
// over <path> only when complete, so a crash never leaves a half-written file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace nibble {

std::string read_text_file(const std::string& path);  // throws Error naming the path
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
std::string join_path(std::string_view dir, std::string_view name);

// Writes through `write` into a temporary file next to `path`, fsyncs, and
// renames it into place. On any exception the temporary file is removed.
void write_file_atomically(const std::string& path,
                           const std::function<void(std::FILE*)>& write);
void write_text_file_atomically(const std::string& path, std::string_view text);

// fwrite that throws Error naming `path` on a short write.
void write_bytes(std::FILE* f, const void* data, size_t n, const std::string& path);

}  // namespace nibble
