#include "serve/http_server.h"

#include <httplib.h>

#include "core/error.h"
#include "serve/api_error.h"
#include "serve/generation_endpoint.h"
#include "serve/responses.h"

namespace nibble::serve {

namespace {

using nlohmann::json;
using ojson = nlohmann::ordered_json;
using httplib::Request;
using httplib::Response;

const std::vector<std::string> kRoutes = {
    "/health",   "/metrics",   "/v1/models", "/v1/completions", "/v1/chat/completions",
    "/tokenize", "/detokenize"};

bool known_route(const std::string& path) {
  for (const std::string& r : kRoutes)
    if (path == r) return true;
  return path.rfind("/v1/models/", 0) == 0;
}

// Bounded label values for the requests counter, whatever paths clients send.
std::string route_label(const std::string& path) {
  for (const std::string& r : kRoutes)
    if (path == r) return r;
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{model}";
  return "other";
}

std::string clipped(const std::string& s) { return s.size() > 200 ? s.substr(0, 200) + "..." : s; }

void send_json(Response& res, int status, const ojson& body) {
  res.status = status;
  res.set_content(dump_json(body), kJsonContentType);
}

void send_error(Response& res, int status, const std::string& message, const std::string& param = "") {
  send_json(res, status, error_body(status, message, param));
}

// Constant-time over the longest key, so timing says nothing about a prefix.
bool key_matches(const std::string& given, const std::vector<std::string>& keys) {
  bool any = false;
  for (const std::string& key : keys) {
    unsigned diff = given.size() != key.size();
    const size_t n = std::max(given.size(), key.size());
    for (size_t i = 0; i < n; ++i) {
      const unsigned char a = i < given.size() ? given[i] : 0, b = i < key.size() ? key[i] : 0;
      diff |= unsigned(a ^ b);
    }
    any |= diff == 0;
  }
  return any;
}

bool needs_key(const std::string& path, const ServeOptions& o) {
  if (o.api_keys.empty()) return false;
  if (path == "/metrics") return o.metrics_need_key;
  return path.rfind("/v1", 0) == 0 || path == "/tokenize" || path == "/detokenize" || path == "/props";
}

// Runs a handler behind auth, turning every exception into an error response.
template <class F>
httplib::Server::Handler guarded(ServeContext& ctx, F f) {
  return [&ctx, f](const Request& req, Response& res) {
    try {
      if (needs_key(req.path, ctx.options)) {
        const std::string auth = req.get_header_value("Authorization");
        const std::string prefix = "Bearer ";
        if (auth.empty()) {
          send_error(res, 401, "Missing API key: send the header \"Authorization: Bearer <key>\"");
          return;
        }
        if (auth.rfind(prefix, 0) != 0 || !key_matches(auth.substr(prefix.size()), ctx.options.api_keys)) {
          send_error(res, 401, "Invalid API key");
          return;
        }
      }
      f(req, res);
    } catch (const ApiError& e) {
      send_error(res, e.status(), e.what(), e.param());
    } catch (const json::exception& e) {
      send_error(res, 400, std::string("invalid request: ") + e.what());
    } catch (const Error& e) {
      send_error(res, 400, e.what());
    } catch (const std::bad_alloc&) {
      send_error(res, 500, "out of memory");
    } catch (const std::exception& e) {
      send_error(res, 500, std::string("internal error: ") + e.what());
    } catch (...) {
      send_error(res, 500, "internal error");
    }
  };
}

ojson model_card(const ServeContext& ctx) {
  return {{"id", ctx.options.served_model_name},
          {"object", "model"},
          {"created", ctx.created},
          {"owned_by", "nibble"},
          {"root", ctx.options.served_model_name},
          {"parent", nullptr},
          {"max_model_len", ctx.scheduler.options().context}};
}

void tokenize(ServeContext& ctx, const Request& req, Response& res) {
  const json b = parse_json_body(req.body);
  if (auto model = fields::string(b, "model")) check_model(ctx, *model);
  std::vector<int> ids;
  if (fields::has(b, "messages")) {
    const GenerationParams p = parse_chat_request(b, ctx.sampling_defaults, ctx.vocab);
    ids = ctx.prompts.chat(p.messages, p.add_generation_prompt, p.continue_final_message, p.template_kwargs)
              .tokens;
  } else {
    // llama.cpp: {"content", "add_special" = false}; vLLM: {"prompt", "add_special_tokens" = true}.
    const bool llama_cpp = fields::has(b, "content");
    const auto text = fields::string(b, llama_cpp ? "content" : "prompt");
    if (!text) throw bad_request("one of prompt, content or messages is required", "prompt");
    bool add_special = !llama_cpp;
    if (auto v = fields::boolean(b, "add_special_tokens")) add_special = *v;
    if (auto v = fields::boolean(b, "add_special")) add_special = *v;
    ids = ctx.prompts.encode(*text, add_special);
  }
  ojson out = {{"count", ids.size()}, {"max_model_len", ctx.scheduler.options().context}};
  if (fields::boolean(b, "with_pieces").value_or(false)) {
    ojson tokens = ojson::array();
    for (int id : ids) tokens.push_back({{"id", id}, {"piece", token_text(ctx.tokenizer, id)}});
    out["tokens"] = tokens;
  } else {
    out["tokens"] = ids;
  }
  if (fields::boolean(b, "return_token_strs").value_or(false)) {
    ojson strs = ojson::array();
    for (int id : ids) strs.push_back(ctx.tokenizer.id_to_piece(id));
    out["token_strs"] = strs;
  }
  send_json(res, 200, out);
}

void detokenize(ServeContext& ctx, const Request& req, Response& res) {
  const json b = parse_json_body(req.body);
  if (auto model = fields::string(b, "model")) check_model(ctx, *model);
  if (!fields::has(b, "tokens")) throw bad_request("tokens is required", "tokens");
  const json& t = b["tokens"];
  if (!t.is_array())
    throw bad_request(std::string("tokens must be an array of token ids, got ") + t.type_name(), "tokens");
  std::vector<int> ids;
  for (size_t i = 0; i < t.size(); ++i) {
    if (!t[i].is_number_integer() || t[i].get<int64_t>() < 0 || t[i].get<int64_t>() >= ctx.vocab)
      throw bad_request("tokens[" + std::to_string(i) + "] must be a token id in [0, " +
                            std::to_string(ctx.vocab) + "), got " + clipped(dump_json(t[i])),
                        "tokens");
    ids.push_back(t[i].get<int>());
  }
  const std::string text = ctx.tokenizer.decode(ids);
  send_json(res, 200, ojson{{"content", text}, {"prompt", text}});
}

}  // namespace

HttpServer::HttpServer(ServeContext& ctx) : ctx_(ctx), server_(std::make_unique<httplib::Server>()) {
  const ServeOptions& o = ctx_.options;
  const SchedulerOptions& s = ctx_.scheduler.options();
  // Each streaming response holds a pool thread for its whole life.
  const int threads = o.http_threads > 0 ? o.http_threads : s.max_batch + s.max_queue + 8;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
  server_->set_payload_max_length(o.max_body_bytes);
  server_->set_tcp_nodelay(true);  // stream chunks are small: no Nagle delays
  server_->set_default_headers({{"Access-Control-Allow-Origin", "*"}});
  add_routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::add_routes() {
  httplib::Server& svr = *server_;
  ServeContext& ctx = ctx_;

  svr.Get("/health", guarded(ctx, [&ctx](const Request&, Response& res) {
            if (ctx.scheduler.healthy())
              send_json(res, 200, ojson{{"status", "ok"}});
            else
              send_error(res, 503, "the engine is not running");
          }));
  svr.Get("/metrics", guarded(ctx, [&ctx](const Request&, Response& res) {
            res.set_content(ctx.metrics.render(), "text/plain; version=0.0.4");
          }));
  svr.Get("/v1/models", guarded(ctx, [&ctx](const Request&, Response& res) {
            send_json(res, 200, ojson{{"object", "list"}, {"data", ojson::array({model_card(ctx)})}});
          }));
  svr.Get(R"(/v1/models/(.+))", guarded(ctx, [&ctx](const Request& req, Response& res) {
            check_model(ctx, req.matches[1]);
            send_json(res, 200, model_card(ctx));
          }));
  svr.Post("/v1/chat/completions", guarded(ctx, [&ctx](const Request& req, Response& res) {
             handle_generation(ctx, Endpoint::kChat, req, res);
           }));
  svr.Post("/v1/completions", guarded(ctx, [&ctx](const Request& req, Response& res) {
             handle_generation(ctx, Endpoint::kCompletion, req, res);
           }));
  svr.Post("/tokenize", guarded(ctx, [&ctx](const Request& req, Response& res) { tokenize(ctx, req, res); }));
  svr.Post("/detokenize",
           guarded(ctx, [&ctx](const Request& req, Response& res) { detokenize(ctx, req, res); }));

  // A body over the limit is refused before it is read (httplib would read
  // and discard all of it first). A body without a length would be read
  // until the client closes: 411.
  const size_t max_body = ctx.options.max_body_bytes;
  svr.set_pre_routing_handler([max_body](const Request& req, Response& res) {
    const std::string length = req.get_header_value("Content-Length");
    if (!length.empty() && (length.size() > 18 || std::strtoull(length.c_str(), nullptr, 10) > max_body)) {
      send_error(res, 413,
                 "the request body is larger than the limit of " + std::to_string(max_body) + " bytes");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (length.empty() && !req.has_header("Transfer-Encoding") &&
        (req.method == "POST" || req.method == "PUT" || req.method == "PATCH")) {
      send_error(res, 411, "a request body needs a Content-Length (or chunked Transfer-Encoding)");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // CORS preflights, without auth (as both peers do).
  svr.Options(R"(.*)", [](const Request& req, Response& res) {
    res.status = 204;
    res.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    const std::string asked = req.get_header_value("Access-Control-Request-Headers");
    res.set_header("Access-Control-Allow-Headers", asked.empty() ? "Authorization, Content-Type" : asked);
    res.set_header("Access-Control-Max-Age", "86400");
  });

  // Everything httplib answers by itself (400 malformed request, 404, 413,
  // 414, ...) gets an OpenAI error body; a known path with the wrong method is 405.
  svr.set_error_handler(httplib::Server::HandlerWithResponse([](const Request& req, Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string message;
    switch (res.status) {
      case 404:
        if (known_route(req.path)) {
          res.status = 405;
          res.set_header("Allow", req.path == "/v1/completions" || req.path == "/v1/chat/completions" ||
                                          req.path == "/tokenize" || req.path == "/detokenize"
                                      ? "POST"
                                      : "GET");
          message = "method " + clipped(req.method) + " is not allowed for " + clipped(req.path);
        } else {
          message = "no such route: " + clipped(req.method) + " " + clipped(req.path);
        }
        break;
      case 413:
        message = "the request body is too large";
        break;
      case 414:
        message = "the request URI is too long";
        break;
      case 400:
        message = "malformed HTTP request";
        break;
      default:
        message = "HTTP error " + std::to_string(res.status);
        break;
    }
    send_error(res, res.status, message);
    return httplib::Server::HandlerResponse::Handled;
  }));
  svr.set_exception_handler(
      [](const Request&, Response& res, std::exception_ptr) { send_error(res, 500, "internal error"); });
  svr.set_logger([&ctx](const Request& req, const Response& res) {
    ctx.metrics.count_request(route_label(req.path), res.status);
  });
}

int HttpServer::bind(const std::string& host, int port) {
  if (port == 0) {
    const int bound = server_->bind_to_any_port(host);
    NIBBLE_CHECK(bound > 0, "cannot listen on ", host, " (any port)");
    return bound;
  }
  NIBBLE_CHECK(server_->bind_to_port(host, port), "cannot listen on ", host, ":", port,
               " (in use, or not an address of this machine)");
  return port;
}

void HttpServer::run() { server_->listen_after_bind(); }

void HttpServer::stop() { server_->stop(); }

}  // namespace nibble::serve
