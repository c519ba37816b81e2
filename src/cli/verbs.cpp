#include "cli/verbs.h"

namespace nibble::cli {

void register_verbs(CLI::App& app) { (void)app; }

}  // namespace nibble::cli
