// The channel between the engine thread and the HTTP thread serving one
// request: the engine pushes what each choice produced (text deltas, token
// logprobs, the finish), the HTTP thread pops them to write the response, and
// either side may cancel (client gone, server stopping).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nibble::serve {

enum class FinishReason { kNone, kStop, kLength, kAbort, kError };
const char* finish_reason_name(FinishReason reason);  // "stop", "length", "abort", "error"

struct TokenLogprob {
  int id = 0;
  float logprob = 0;
  std::vector<std::pair<int, float>> top;  // most likely alternatives, best first
};

struct ChoiceEvent {
  int index = 0;                       // choice index in the response
  std::string text;                    // new text (may be empty)
  std::vector<TokenLogprob> logprobs;  // tokens sampled since the last event, when asked for
  FinishReason finish = FinishReason::kNone;
  int completion_tokens = 0;  // tokens this choice generated so far
  std::string error;          // why, when finish == kError
};

class RequestStream {
 public:
  RequestStream(int choices, int prompt_tokens) : open_(choices), prompt_tokens_(prompt_tokens) {}

  // Engine side.
  void push(ChoiceEvent event);

  // HTTP side: the next event, or nullopt when none came within `timeout`
  // (or none will come: check done()).
  std::optional<ChoiceEvent> next(std::chrono::milliseconds timeout);
  bool done() const;  // every choice finished and every event popped

  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }
  int prompt_tokens() const { return prompt_tokens_; }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ChoiceEvent> events_;
  int open_;  // choices not finished yet
  int prompt_tokens_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace nibble::serve
