// The HTTP surface of `nibble serve` (shared/specs/openai-api.md): routes,
// API-key auth, CORS, and errors in the OpenAI shape for everything that
// goes wrong, including what httplib itself rejects (bad request lines, 404,
// 405, 413). No input reaches the client as a crash: every handler is
// wrapped, and an unexpected exception is a 500 error object.
//
//   GET  /health                      200 {"status": "ok"} (503 when the engine died)
//   GET  /metrics                     Prometheus text
//   GET  /v1/models, /v1/models/{id}
//   POST /v1/completions, /v1/chat/completions   (JSON or SSE with "stream")
//   POST /tokenize, /detokenize       vLLM and llama.cpp request shapes
#pragma once

#include <memory>
#include <string>

#include "serve/server_context.h"

namespace httplib {
class Server;
}

namespace nibble::serve {

class HttpServer {
 public:
  explicit HttpServer(ServeContext& ctx);
  ~HttpServer();

  // Binds host:port (port 0: a free one) and returns the port. Throws Error.
  int bind(const std::string& host, int port);
  void run();   // serves until stop()
  void stop();  // safe from any thread

 private:
  void add_routes();
  ServeContext& ctx_;
  std::unique_ptr<httplib::Server> server_;
};

}  // namespace nibble::serve
