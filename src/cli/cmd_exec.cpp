// exec, attach (being written).
#include "cli.h"

namespace den::cli {
void register_exec_commands(std::vector<Command>&) {}
}  // namespace den::cli
