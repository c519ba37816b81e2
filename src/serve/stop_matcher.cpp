#include "serve/stop_matcher.h"

#include <algorithm>

namespace nibble::serve {

StopMatcher::StopMatcher(std::vector<std::string> stops, bool include_stop) : include_stop_(include_stop) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

std::string StopMatcher::push(const std::string& text) {
  if (matched_) return "";
  pending_ += text;
  // The earliest stop string in the pending text ends generation there.
  size_t best = std::string::npos;
  for (const std::string& stop : stops_) {
    const size_t at = pending_.find(stop);
    if (at != std::string::npos && (best == std::string::npos || at < best)) {
      best = at;
      matched_stop_ = stop;
    }
  }
  if (best != std::string::npos) {
    matched_ = true;
    std::string out = pending_.substr(0, best + (include_stop_ ? matched_stop_.size() : 0));
    pending_.clear();
    return out;
  }
  // Hold back the longest tail that is a proper prefix of some stop string:
  // emitted text can then never be the start of a later match.
  size_t hold = 0;
  for (const std::string& stop : stops_) {
    const size_t longest = std::min(stop.size() - 1, pending_.size());
    for (size_t k = longest; k > hold; --k)
      if (pending_.compare(pending_.size() - k, k, stop, 0, k) == 0) {
        hold = k;
        break;
      }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopMatcher::flush() {
  std::string out;
  out.swap(pending_);
  return matched_ ? "" : out;
}

}  // namespace nibble::serve
