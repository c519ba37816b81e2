#include "serve/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "core/error.h"
#include "serve/api_error.h"
#include "serve/incremental_decoder.h"
#include "serve/sequence_sampler.h"
#include "serve/stop_matcher.h"

namespace nibble::serve {

namespace {
using Clock = std::chrono::steady_clock;
double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

struct Scheduler::Sequence {
  Sequence(SequenceSpec s, std::shared_ptr<RequestStream> o, const tokenizer::Tokenizer& tok, int vocab)
      : spec(std::move(s)),
        out(std::move(o)),
        sampler(spec.sampling, vocab),
        decoder(tok, spec.prompt),
        stop(spec.stop, spec.include_stop_str_in_output),
        history(spec.prompt) {}

  SequenceSpec spec;
  std::shared_ptr<RequestStream> out;
  SequenceSampler sampler;
  IncrementalDecoder decoder;
  StopMatcher stop;
  std::vector<int> history;  // prompt + generated; the last one is fed next
  int slot = -1;
  int prefilled = 0;  // prompt tokens in the cache
  int generated = 0;
  bool finished = false;
  Clock::time_point arrival = Clock::now(), last_token;

  bool decoding() const { return prefilled == int(spec.prompt.size()); }
};

Scheduler::Scheduler(model::LlamaModel& model, const tokenizer::Tokenizer& tokenizer, Metrics& metrics,
                     SchedulerOptions options)
    : model_(model),
      tok_(tokenizer),
      metrics_(metrics),
      options_(options),
      cache_(model.config(), options.max_batch, options.context) {
  for (int slot = options_.max_batch - 1; slot >= 0; --slot) free_slots_.push_back(slot);
  const int n = std::min(tokenizer.vocab_size(), model.vocab_size());
  for (int id = 0; id < n; ++id)
    if (tokenizer.is_eos(id)) end_ids_.push_back(id);
  thread_ = std::thread([this] { run(); });
}

Scheduler::~Scheduler() { stop(); }

void Scheduler::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool Scheduler::healthy() const { return alive_; }

std::shared_ptr<RequestStream> Scheduler::submit(std::vector<SequenceSpec> sequences) {
  int prompt_tokens = 0;
  for (const SequenceSpec& s : sequences) prompt_tokens += int(s.prompt.size());
  auto stream = std::make_shared<RequestStream>(int(sequences.size()), prompt_tokens);
  std::vector<std::unique_ptr<Sequence>> seqs;
  for (SequenceSpec& s : sequences)
    seqs.push_back(std::make_unique<Sequence>(std::move(s), stream, tok_, model_.vocab_size()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || !alive_) throw ApiError(503, "the server is shutting down");
    if (waiting_.size() + seqs.size() > size_t(options_.max_queue))
      throw ApiError(429, cat("the server is busy: ", waiting_.size(),
                              " sequences are already waiting for a slot (--max-queue ", options_.max_queue,
                              "); retry later"));
    for (auto& s : seqs) waiting_.push_back(std::move(s));
    metrics_.set_waiting(int(waiting_.size()));
  }
  cv_.notify_all();
  return stream;
}

void Scheduler::run() {
  try {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !waiting_.empty() || !running_.empty(); });
        if (stopping_) break;
        for (auto it = waiting_.begin(); it != waiting_.end();) {
          if ((*it)->out->cancelled()) {
            finish(**it, FinishReason::kAbort, "");
            it = waiting_.erase(it);
          } else {
            ++it;
          }
        }
        while (!free_slots_.empty() && !waiting_.empty()) {
          running_.push_back(std::move(waiting_.front()));
          waiting_.pop_front();
          running_.back()->slot = free_slots_.back();
          free_slots_.pop_back();
        }
        metrics_.set_waiting(int(waiting_.size()));
      }
      metrics_.set_running(int(running_.size()));
      step();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve: the engine stopped: %s\n", e.what());
  }
  alive_ = false;
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = true;
  for (auto& seq : running_)
    if (!seq->finished) finish(*seq, FinishReason::kAbort, "", "the server is shutting down");
  for (auto& seq : waiting_) finish(*seq, FinishReason::kAbort, "", "the server is shutting down");
  running_.clear();
  waiting_.clear();
  metrics_.set_running(0);
  metrics_.set_waiting(0);
}

void Scheduler::step() {
  for (auto& seq : running_)
    if (seq->out->cancelled()) finish(*seq, FinishReason::kAbort, "");
  release(running_);
  if (running_.empty()) return;

  // Decode tokens of running sequences first, then prompt chunks.
  std::vector<model::BatchToken> batch;
  std::vector<Sequence*> owners;  // sequences whose logits come out, in batch order
  for (auto& seq : running_) {
    if (!seq->decoding()) continue;
    batch.push_back({seq->history.back(), int(seq->history.size()) - 1, seq->slot, true});
    owners.push_back(seq.get());
  }
  int budget = options_.prefill_chunk, prompt_tokens = 0;
  for (auto& seq : running_) {
    if (seq->decoding() || budget <= 0) continue;
    const int total = int(seq->spec.prompt.size());
    const int end = std::min(total, seq->prefilled + budget);
    for (int pos = seq->prefilled; pos < end; ++pos)
      batch.push_back({seq->spec.prompt[pos], pos, seq->slot, pos == total - 1});
    budget -= end - seq->prefilled;
    prompt_tokens += end - seq->prefilled;
    seq->prefilled = end;
    if (end == total) owners.push_back(seq.get());
  }

  const size_t vocab = size_t(model_.vocab_size());
  logits_.resize(owners.size() * vocab);
  try {
    model_.forward(batch, cache_, logits_.data());
  } catch (const std::exception& e) {
    // A bad batch fails its sequences, not the server.
    std::fprintf(stderr, "serve: forward pass failed: %s\n", e.what());
    for (auto& seq : running_) finish(*seq, FinishReason::kError, "", e.what());
    release(running_);
    return;
  }
  metrics_.count_step(int(batch.size()));
  metrics_.add_prompt_tokens(prompt_tokens);
  for (size_t i = 0; i < owners.size(); ++i) sample_and_emit(*owners[i], &logits_[i * vocab]);
  release(running_);
}

bool Scheduler::sample_and_emit(Sequence& seq, const float* logits) {
  const SequenceSpec& spec = seq.spec;
  std::vector<int> banned;
  if (spec.ignore_eos || seq.generated < spec.min_tokens) banned = end_ids_;
  if (seq.generated < spec.min_tokens)
    banned.insert(banned.end(), spec.stop_token_ids.begin(), spec.stop_token_ids.end());
  const int token = seq.sampler.sample(logits, seq.history, banned);

  const Clock::time_point now = Clock::now();
  if (seq.generated == 0)
    metrics_.time_to_first_token.observe(seconds(now - seq.arrival));
  else
    metrics_.time_per_output_token.observe(seconds(now - seq.last_token));
  seq.last_token = now;
  ++seq.generated;  // an end token counts: it took a decode step
  metrics_.add_generated_tokens(1);

  ChoiceEvent event;
  if (spec.logprobs >= 0)
    event.logprobs.push_back(token_logprobs(logits, model_.vocab_size(), token, spec.logprobs));
  const bool end_token =
      (!spec.ignore_eos && tok_.is_eos(token)) ||
      std::find(spec.stop_token_ids.begin(), spec.stop_token_ids.end(), token) != spec.stop_token_ids.end();
  if (end_token) {
    std::string text = seq.stop.push(seq.decoder.flush());
    text += seq.stop.flush();
    finish(seq, FinishReason::kStop, std::move(text), "", std::move(event.logprobs));
    return false;
  }
  seq.history.push_back(token);
  seq.sampler.accept(token);
  event.text = seq.stop.push(seq.decoder.push(token));
  if (seq.stop.matched()) {
    finish(seq, FinishReason::kStop, std::move(event.text), "", std::move(event.logprobs));
    return false;
  }
  if (seq.generated >= spec.max_tokens || int(seq.history.size()) >= options_.context) {
    event.text += seq.stop.push(seq.decoder.flush());
    const FinishReason reason = seq.stop.matched() ? FinishReason::kStop : FinishReason::kLength;
    event.text += seq.stop.flush();
    finish(seq, reason, std::move(event.text), "", std::move(event.logprobs));
    return false;
  }
  if (!event.text.empty() || !event.logprobs.empty()) {
    event.index = spec.index;
    event.completion_tokens = seq.generated;
    seq.out->push(std::move(event));
  }
  return true;
}

void Scheduler::finish(Sequence& seq, FinishReason reason, std::string text, const std::string& error,
                       std::vector<TokenLogprob> logprobs) {
  if (seq.finished) return;
  seq.finished = true;
  ChoiceEvent event;
  event.index = seq.spec.index;
  event.text = std::move(text);
  event.logprobs = std::move(logprobs);
  event.finish = reason;
  event.completion_tokens = seq.generated;
  event.error = error;
  // Metrics first: a client that reads /metrics after its answer sees them.
  metrics_.count_finished(finish_reason_name(reason));
  metrics_.e2e_latency.observe(seconds(Clock::now() - seq.arrival));
  seq.out->push(std::move(event));
}

void Scheduler::release(std::vector<std::unique_ptr<Sequence>>& running) {
  size_t used = 0;
  for (auto it = running.begin(); it != running.end();) {
    if ((*it)->finished) {
      free_slots_.push_back((*it)->slot);
      it = running.erase(it);
    } else {
      used += (*it)->history.size();
      ++it;
    }
  }
  metrics_.set_running(int(running.size()));
  metrics_.set_kv_usage(double(used) / (double(options_.max_batch) * options_.context));
}

}  // namespace nibble::serve
