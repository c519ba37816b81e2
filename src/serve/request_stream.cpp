#include "serve/request_stream.h"

namespace nibble::serve {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
    case FinishReason::kError:
      return "error";
    case FinishReason::kNone:
      break;
  }
  return "";
}

void RequestStream::push(ChoiceEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (event.finish != FinishReason::kNone) --open_;
    events_.push_back(std::move(event));
  }
  cv_.notify_all();
}

std::optional<ChoiceEvent> RequestStream::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty() || open_ <= 0; })) return std::nullopt;
  if (events_.empty()) return std::nullopt;
  ChoiceEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

bool RequestStream::done() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_ <= 0 && events_.empty();
}

}  // namespace nibble::serve
