// Errors. nibble reports bad input by throwing nibble::Error with one line
// that names the file, tensor or field and what was expected; the CLI prints
// it and exits non-zero. Programming errors are assertions, not Errors.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace nibble {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates its arguments with operator<< into one string.
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(cat(args...));
}

// Checks an input condition; the message is only built when it fails.
#define NIBBLE_CHECK(cond, ...)            \
  do {                                     \
    if (!(cond)) ::nibble::fail(__VA_ARGS__); \
  } while (0)

}  // namespace nibble
