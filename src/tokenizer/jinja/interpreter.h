// Renders a parsed template: walks the statements, evaluates expressions,
// and keeps scopes (a for loop's body and a macro's body get their own; if
// and set do not).
//
// Globals every template sees: true/false/none (also True/False/None),
// range, namespace, dict, raise_exception, strftime_now.
//
// Bounds on steps, recursion and sizes: limits.h.
#pragma once

#include <string>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/source.h"
#include "tokenizer/jinja/value.h"

namespace nibble::tokenizer::jinja {

// Renders `program` (parsed from `source`) with `variables` as the template's
// top-level names. Throws nibble::Error naming the line and column on a
// runtime error, TemplateRaisedError for raise_exception().
std::string render(const Program& program, const Source& source, const Object& variables);

}  // namespace nibble::tokenizer::jinja
