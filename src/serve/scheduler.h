// The continuous-batching engine. One thread owns the model and a KV cache
// of `max_batch` slots × `context` positions. Each step builds one batch:
// every running sequence contributes its next decode token, and sequences
// still reading their prompt contribute chunks of it (at most
// `prefill_chunk` prompt tokens per step in total, so a long prompt does not
// stall running streams). One LlamaModel::forward per step; then each
// sequence that got logits samples, checks its end conditions and pushes
// text to its RequestStream. Finished or cancelled sequences free their slot
// at once and waiting ones take it on the next step.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "model/llama.h"
#include "serve/metrics.h"
#include "serve/protocol.h"
#include "serve/request_stream.h"
#include "tokenizer/tokenizer.h"

namespace nibble::serve {

struct SchedulerOptions {
  int max_batch = 8;        // sequences decoding together (KV-cache slots)
  int context = 4096;       // positions per slot: prompt + generated
  int max_queue = 64;       // waiting sequences beyond which submit() refuses (429)
  int prefill_chunk = 256;  // prompt tokens per step, all sequences together
};

// One sequence to generate: a choice of a request.
struct SequenceSpec {
  int index = 0;  // choice index in the response
  std::vector<int> prompt;
  int max_tokens = 16;  // prompt.size() + max_tokens <= context
  int min_tokens = 0;
  SamplingOptions sampling;
  std::vector<std::string> stop;
  std::vector<int> stop_token_ids;
  bool include_stop_str_in_output = false;
  bool ignore_eos = false;
  int logprobs = -1;  // -1: none; else alternatives per token
};

class Scheduler {
 public:
  Scheduler(model::LlamaModel& model, const tokenizer::Tokenizer& tokenizer, Metrics& metrics,
            SchedulerOptions options);
  ~Scheduler();  // stops the engine thread; open requests finish with "abort"

  // Queues the sequences of one request; they stream into the returned
  // RequestStream. Throws ApiError 429 when the queue is full, 503 when stopped.
  std::shared_ptr<RequestStream> submit(std::vector<SequenceSpec> sequences);

  void stop();
  bool healthy() const;
  const SchedulerOptions& options() const { return options_; }

 private:
  struct Sequence;
  void run();
  void step();
  bool sample_and_emit(Sequence& seq, const float* logits);  // false when it finished
  void finish(Sequence& seq, FinishReason reason, std::string text, const std::string& error = "",
              std::vector<TokenLogprob> logprobs = {});
  void release(std::vector<std::unique_ptr<Sequence>>& running);

  model::LlamaModel& model_;
  const tokenizer::Tokenizer& tok_;
  Metrics& metrics_;
  SchedulerOptions options_;
  model::KVCache cache_;
  std::vector<int> end_ids_;  // the tokenizer's end-of-generation ids

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Sequence>> waiting_;  // guarded by mu_
  bool stopping_ = false;                          // guarded by mu_
  std::atomic<bool> alive_{true};

  std::vector<int> free_slots_;  // engine thread only
  std::vector<std::unique_ptr<Sequence>> running_;
  std::vector<float> logits_;
  std::thread thread_;
};

}  // namespace nibble::serve
