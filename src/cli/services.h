// Hooks of the service features (health checks, events, systemd) into the
// container commands; the commands themselves are in cmd_services.cpp.
#pragma once

#include <string>
#include <vector>

#include "cli.h"
#include "den/container.h"

namespace den::cli {

// run/create flags: --health-*, --no-healthcheck, --sdnotify, --replace.
std::vector<Option> service_create_options();
// Applies them (and the image's HEALTHCHECK) to the config; records the
// create command (for `generate systemd --new`) and the systemd unit label.
void apply_service_flags(ContainerConfig& c, const Args& a, const Json& image_config);
// --replace: removes the container of that name (stopping it first) if any.
void replace_container(Context& ctx, const std::string& name);
// `run -d` rootless, outside a unit, without linger: advice on
// `loginctl enable-linger` (once per boot).
void maybe_advise_linger(Context& ctx);
// Waits (at most timeout_ms) for the container's monitor, as recorded in
// st, to exit.
void wait_for_monitor_exit(const ContainerState& st, int timeout_ms);
// ps STATUS: " (healthy)", " (unhealthy)", " (health: starting)" or "".
std::string health_status_suffix(const ContainerState& st);
// `wait --condition`: blocks until the condition holds; returns the text
// to print.
std::string wait_for_condition(ContainerStore& cs, const std::string& id, const std::string& condition);

// `start --all [--filter restart-policy=always ...]`: the containers to
// start (not running; unless-stopped only if not stopped by the user).
std::vector<std::string> containers_for_start_all(ContainerStore& cs, const std::vector<std::string>& filters);

void register_service_commands(std::vector<Command>& table);

}  // namespace den::cli
