// Values to and from JSON, and to the text a template prints.
//
// Printing follows @huggingface/jinja, the renderer the Hub uses: none and
// undefined print nothing, booleans print "true"/"false", floats with no
// fraction print with ".0", lists and dicts print as JSON. The tojson filter
// is Python's json.dumps(ensure_ascii=False) as transformers calls it, with
// JavaScript number text (a float with no fraction prints without ".0").
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "tokenizer/jinja/value.h"

namespace nibble::tokenizer::jinja {

// JSON numbers with no fraction become integers (as JavaScript reads them).
// Throws nibble::Error if the JSON nests deeper than 256 levels.
Value from_json(const nlohmann::ordered_json& json);

struct JsonOptions {
  int indent = 0;  // 0: one line
  bool ensure_ascii = false;
  bool sort_keys = false;
  std::optional<std::pair<std::string, std::string>> separators;  // item, key
};

// Throws EvalFailure for a callable or a value that contains itself.
std::string to_json(const Value& v, const JsonOptions& options = {});
// The text `{{ v }}` prints.
std::string to_text(const Value& v);

}  // namespace nibble::tokenizer::jinja
