// Errors of the Jinja interpreter.
//
// Helpers (filters, methods, value operations) throw EvalFailure with a bare
// message; the interpreter catches it at the node being evaluated and throws
// nibble::Error naming the template line and column. A template's own
// raise_exception("...") becomes TemplateRaisedError, so callers can tell a
// request the template refuses (e.g. roles that do not alternate) from a
// broken template.
#pragma once

#include <string>

#include "core/error.h"

namespace nibble::tokenizer::jinja {

struct EvalFailure {
  std::string message;
};

template <class... Args>
[[noreturn]] void eval_fail(const Args&... args) {
  throw EvalFailure{cat(args...)};
}

class TemplateRaisedError : public Error {
 public:
  using Error::Error;
};

}  // namespace nibble::tokenizer::jinja
