// nibble <verb> ...: each verb lives in its own file (cli/<verb>.cpp) and
// registers itself with the CLI11 app here.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/verbs.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"nibble: quantize, run and serve large language models on the CPU"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nibble 0.1.0");
  nibble::cli::register_verbs(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const nibble::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: out of memory\n");
    return 1;
  }
  return 0;
}
