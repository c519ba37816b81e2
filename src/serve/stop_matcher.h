// Stop strings in streamed text: passes text through as it is generated but
// holds back any tail that could still grow into a stop string, and cuts the
// text where one appears (the stop string itself is not emitted unless asked).
#pragma once

#include <string>
#include <vector>

namespace nibble::serve {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops, bool include_stop = false);

  // Adds generated text; returns the part now safe to emit. After a match it
  // returns the text up to the stop string and matched() turns true; further
  // pushes return "".
  std::string push(const std::string& text);
  // At the end of generation: the held-back text (nothing after a match).
  std::string flush();

  bool matched() const { return matched_; }
  const std::string& matched_stop() const { return matched_stop_; }

 private:
  std::vector<std::string> stops_;
  bool include_stop_;
  std::string pending_;  // generated, not emitted
  bool matched_ = false;
  std::string matched_stop_;
};

}  // namespace nibble::serve
