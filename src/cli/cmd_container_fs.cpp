// top, port, diff, export, commit, system check (being written).
#include "cli.h"

namespace den::cli {
void register_container_fs_commands(std::vector<Command>&) {}
}  // namespace den::cli
