// nibble serve: an OpenAI-compatible HTTP server with continuous batching.
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <thread>

#include "cli/model_loading.h"
#include "cli/verbs.h"
#include "core/error.h"
#include "core/parallel.h"
#include "serve/http_server.h"
#include "serve/protocol.h"

namespace nibble::cli {

namespace {
int g_stop_pipe[2] = {-1, -1};  // written by the signal handler
}  // namespace

void add_serve(CLI::App& app) {
  struct Options {
    RunOptions run;
    serve::ServeOptions serve;
    serve::SchedulerOptions scheduler;
    std::vector<std::string> api_keys;
  };
  auto o = std::make_shared<Options>();
  CLI::App* verb = app.add_subcommand("serve", "serve the model over an OpenAI-compatible HTTP API");
  add_run_options(*verb, o->run);
  verb->add_option("--host", o->serve.host, "address to listen on")->capture_default_str();
  verb->add_option("--port", o->serve.port, "port to listen on (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  verb->add_option("--api-key", o->api_keys, "require 'Authorization: Bearer KEY' (repeatable)");
  verb->add_option("--served-model-name", o->serve.served_model_name,
                   "model id clients use (default: the model directory's name)");
  verb->add_flag("--accept-any-model", o->serve.accept_any_model, "accept any `model` in requests");
  verb->add_option("--max-batch", o->scheduler.max_batch, "sequences decoded together (KV-cache slots)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  verb->add_option("--ctx", o->scheduler.context,
                   "positions per sequence, prompt + completion (default: the model's, at most 4096)")
      ->check(CLI::Range(0, 1 << 20));
  verb->add_option("--max-queue", o->scheduler.max_queue, "waiting sequences before answering 429")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  verb->add_option("--prefill-chunk", o->scheduler.prefill_chunk, "prompt tokens per engine step")
      ->check(CLI::Range(1, 1 << 16))
      ->capture_default_str();
  verb->add_flag("--metrics-need-key", o->serve.metrics_need_key, "require the API key for /metrics too");
  o->scheduler.context = 0;
  verb->callback([o] {
    apply_run_options(o->run);
    // A client that hangs up must not kill the server with SIGPIPE. SIGINT
    // and SIGTERM wake a thread (through a pipe: the handler may run on any
    // thread, OpenBLAS's included) that stops the server cleanly.
    std::signal(SIGPIPE, SIG_IGN);
    NIBBLE_CHECK(pipe(g_stop_pipe) == 0, "cannot create a pipe");
    struct sigaction action {};
    action.sa_handler = [](int sig) {
      const char byte = char(sig);
      [[maybe_unused]] ssize_t n = write(g_stop_pipe[1], &byte, 1);
    };
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);

    LoadedModel m = load_model(o->run, true);
    serve::ServeOptions& so = o->serve;
    so.api_keys = o->api_keys;
    if (const char* env = std::getenv("NIBBLE_API_KEY"); env && *env && so.api_keys.empty())
      so.api_keys.push_back(env);
    const std::string path = std::filesystem::path(o->run.model).lexically_normal().string();
    std::string name = std::filesystem::path(path).filename().string();
    if (name.empty()) name = std::filesystem::path(path).parent_path().filename().string();
    if (so.served_model_name.empty()) so.served_model_name = name;
    so.model_aliases = {o->run.model, name};
    serve::SchedulerOptions sched = o->scheduler;
    if (sched.context == 0) sched.context = std::min(m.source.config.max_position_embeddings, 4096);

    serve::Metrics metrics(so.served_model_name);
    serve::PromptBuilder prompts(*m.tokenizer, m.source.tokenizer_config);
    serve::Scheduler scheduler(*m.model, *m.tokenizer, metrics, sched);
    serve::ServeContext ctx{so,
                            *m.tokenizer,
                            prompts,
                            scheduler,
                            metrics,
                            serve::default_sampling(m.source.generation_config),
                            m.model->vocab_size(),
                            int64_t(std::time(nullptr))};
    serve::HttpServer server(ctx);
    const int port = server.bind(so.host, so.port);

    std::thread stopper([&] {
      char sig = 0;
      while (read(g_stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
      }
      if (sig == 0) return;  // the server stopped by itself
      std::fprintf(stderr, "serve: stopping (signal %d)\n", int(sig));
      // Abort generation first: open streams then end at once and the
      // HTTP threads can finish.
      scheduler.stop();
      server.stop();
    });
    std::fprintf(
        stderr,
        "serve: %s as \"%s\" on http://%s:%d/v1 | batch %d x ctx %d | %d threads | %s | %s | "
        "loaded in %.2f s\n",
        o->run.model.c_str(), so.served_model_name.c_str(), so.host.c_str(), port, sched.max_batch,
        sched.context, num_threads(), so.api_keys.empty() ? "no API key" : "API key required",
        prompts.has_template() ? "the model's chat template"
                               : "no chat_template in the model: chat uses ChatML",
        m.load_seconds);
    std::fflush(stderr);
    server.run();
    scheduler.stop();
    // The stopper thread is waiting for a signal unless one stopped us.
    const char wake = 0;
    [[maybe_unused]] ssize_t n = write(g_stop_pipe[1], &wake, 1);
    stopper.join();
  });
}

}  // namespace nibble::cli
