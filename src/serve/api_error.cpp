#include "serve/api_error.h"

namespace nibble::serve {

std::string error_type_for_status(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 429:
      return "rate_limit_error";
    case 501:
      return "not_supported_error";
    case 503:
      return "unavailable_error";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

nlohmann::ordered_json error_body(int status, const std::string& message, const std::string& param) {
  nlohmann::ordered_json error = {
      {"message", message},
      {"type", error_type_for_status(status)},
      {"param", param.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(param)},
      {"code", status}};
  return {{"error", std::move(error)}};
}

}  // namespace nibble::serve
