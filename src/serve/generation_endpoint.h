// POST /v1/chat/completions and POST /v1/completions: validate, build the
// prompt, queue the sequences on the scheduler, then answer as one JSON body
// or as an SSE stream. A client that goes away cancels its sequences: a
// failed write (stream chunks, or keep-alives while waiting) frees the slot.
#pragma once

#include <httplib.h>

#include "serve/protocol.h"
#include "serve/server_context.h"

namespace nibble::serve {

// Throws ApiError for a bad request; the caller turns it into the response.
void handle_generation(ServeContext& ctx, Endpoint endpoint, const httplib::Request& req,
                       httplib::Response& res);

// 404 unless `model` is empty (the default), the served name or an alias.
void check_model(const ServeContext& ctx, const std::string& model);

inline constexpr const char* kJsonContentType = "application/json; charset=utf-8";

}  // namespace nibble::serve
