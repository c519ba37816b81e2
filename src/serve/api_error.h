// Errors a request can earn, in the OpenAI shape every client understands:
// HTTP status + {"error": {"message", "type", "param", "code"}}, with `type`
// from llama.cpp's vocabulary and `code` the status. Handlers throw ApiError;
// the HTTP layer turns it into the response.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace nibble::serve {

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = "")
      : std::runtime_error(std::move(message)), status_(status), param_(std::move(param)) {}
  int status() const { return status_; }
  const std::string& param() const { return param_; }  // "" when not about one parameter

 private:
  int status_;
  std::string param_;
};

// 400 about one request parameter: the message should name it.
inline ApiError bad_request(std::string message, std::string param = "") {
  return ApiError(400, std::move(message), std::move(param));
}

// "invalid_request_error", "authentication_error", ... for an HTTP status.
std::string error_type_for_status(int status);

nlohmann::ordered_json error_body(int status, const std::string& message, const std::string& param = "");

}  // namespace nibble::serve
