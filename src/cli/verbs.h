// One function per verb, each defined in cli/<verb>.cpp: it adds its
// subcommand, options and callback to the app.
#pragma once

#include <CLI/CLI.hpp>

namespace nibble::cli {

void register_verbs(CLI::App& app);

}  // namespace nibble::cli
