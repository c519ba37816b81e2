// Server-sent events as OpenAI streams use them: one "data: <json>\n\n" per
// chunk, "data: [DONE]\n\n" at the end, and ": ..." comment lines that
// clients ignore (used as keep-alives, which also reveal a gone client).
#pragma once

#include <string>

namespace nibble::serve {

inline std::string sse_data(const std::string& json_text) { return "data: " + json_text + "\n\n"; }
inline constexpr const char* kSseDone = "data: [DONE]\n\n";
inline constexpr const char* kSseKeepAlive = ": keep-alive\n\n";
inline constexpr const char* kSseContentType = "text/event-stream";

}  // namespace nibble::serve
