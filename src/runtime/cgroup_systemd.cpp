// The systemd cgroup manager over sd-bus (libsystemd).
//
// Why dlopen: Debian ships libsystemd only as a shared library (no
// libsystemd.a), and den links everything but glibc statically so that every
// command starts fast. libsystemd.so.0 is therefore opened on first use, like
// libcurl in src/image/http.cpp; only its header (libsystemd-dev) is needed to
// build. Not `systemd-run --scope`: it can only start a new command in a scope,
// not move the running monitor into one. Not `busctl`: one more process per
// container start, for a single method call.
#include "cgroup_systemd.h"

#include <dlfcn.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "den/error.h"
#include "den/fs.h"
#include "den/log.h"
#include "den/strings.h"

namespace den {

namespace {

struct SdBusApi {
  int (*open_user)(sd_bus**);
  int (*open_system)(sd_bus**);
  int (*bus_new)(sd_bus**);
  int (*set_address)(sd_bus*, const char*);
  int (*start)(sd_bus*);
  sd_bus* (*flush_close_unref)(sd_bus*);
  int (*new_method_call)(sd_bus*, sd_bus_message**, const char*, const char*, const char*, const char*);
  int (*append)(sd_bus_message*, const char*, ...);
  int (*open_container)(sd_bus_message*, char, const char*);
  int (*close_container)(sd_bus_message*);
  int (*call)(sd_bus*, sd_bus_message*, uint64_t, sd_bus_error*, sd_bus_message**);
  sd_bus_message* (*message_unref)(sd_bus_message*);
  void (*error_free)(sd_bus_error*);
  int (*error_has_name)(const sd_bus_error*, const char*);
};

const SdBusApi& sdbus() {
  static SdBusApi api;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    void* h = ::dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      error = fmt::format("cannot load libsystemd ({}): install the libsystemd0 package, or use "
                          "--cgroup-manager=cgroupfs",
                          ::dlerror());
      return;
    }
    auto sym = [&](const char* name) {
      void* p = ::dlsym(h, name);
      if (!p) error = fmt::format("libsystemd lacks {}", name);
      return p;
    };
    api.open_user = reinterpret_cast<decltype(api.open_user)>(sym("sd_bus_open_user"));
    api.open_system = reinterpret_cast<decltype(api.open_system)>(sym("sd_bus_open_system"));
    api.bus_new = reinterpret_cast<decltype(api.bus_new)>(sym("sd_bus_new"));
    api.set_address = reinterpret_cast<decltype(api.set_address)>(sym("sd_bus_set_address"));
    api.start = reinterpret_cast<decltype(api.start)>(sym("sd_bus_start"));
    api.flush_close_unref = reinterpret_cast<decltype(api.flush_close_unref)>(sym("sd_bus_flush_close_unref"));
    api.new_method_call = reinterpret_cast<decltype(api.new_method_call)>(sym("sd_bus_message_new_method_call"));
    api.append = reinterpret_cast<decltype(api.append)>(sym("sd_bus_message_append"));
    api.open_container = reinterpret_cast<decltype(api.open_container)>(sym("sd_bus_message_open_container"));
    api.close_container = reinterpret_cast<decltype(api.close_container)>(sym("sd_bus_message_close_container"));
    api.call = reinterpret_cast<decltype(api.call)>(sym("sd_bus_call"));
    api.message_unref = reinterpret_cast<decltype(api.message_unref)>(sym("sd_bus_message_unref"));
    api.error_free = reinterpret_cast<decltype(api.error_free)>(sym("sd_bus_error_free"));
    api.error_has_name = reinterpret_cast<decltype(api.error_has_name)>(sym("sd_bus_error_has_name"));
  });
  if (!error.empty()) throw Error(error, Errc::Unsupported);
  return api;
}

std::string private_socket() {
  if (::geteuid() == 0) return "/run/systemd/private";
  const char* rt = std::getenv("XDG_RUNTIME_DIR");
  std::string dir = rt && *rt ? rt : fmt::format("/run/user/{}", ::geteuid());
  return dir + "/systemd/private";
}

// A connection to the (user's) systemd: its private socket first, as
// systemctl --user does (no D-Bus daemon needed), else the bus.
sd_bus* connect() {
  const SdBusApi& api = sdbus();
  sd_bus* bus = nullptr;
  std::string sock = private_socket();
  if (::access(sock.c_str(), F_OK) == 0 && api.bus_new(&bus) >= 0) {
    std::string addr = "unix:path=" + sock;
    if (api.set_address(bus, addr.c_str()) >= 0 && api.start(bus) >= 0) return bus;
    api.flush_close_unref(bus);
    bus = nullptr;
  }
  int r = ::geteuid() == 0 ? api.open_system(&bus) : api.open_user(&bus);
  if (r < 0) throw sys_error("connect to the user's systemd instance", -r);
  return bus;
}

std::string cgroup_of_self() {
  if (auto text = read_file_if_exists("/proc/self/cgroup"))
    for (const auto& line : split(*text, '\n'))
      if (line.rfind("0::", 0) == 0) return line.substr(3);
  return "";
}

}  // namespace

bool systemd_manager_reachable() {
  if (::access("/run/systemd/system", F_OK) != 0) return false;
  if (::access(private_socket().c_str(), F_OK) == 0) return true;
  if (::geteuid() == 0) return ::access("/run/dbus/system_bus_socket", F_OK) == 0;
  const char* addr = std::getenv("DBUS_SESSION_BUS_ADDRESS");
  return addr && *addr;
}

std::string systemd_start_scope(const std::string& unit, const std::string& slice, pid_t pid,
                                const std::string& description) {
  log::Phase phase("cgroup: systemd scope");
  const SdBusApi& api = sdbus();
  sd_bus* bus = connect();
  auto call = [&](bool retry) {
    sd_bus_message* m = nullptr;
    sd_bus_message* reply = nullptr;
    sd_bus_error err{};  // SD_BUS_ERROR_NULL, whose compound literal clang refuses in C++
    int r = api.new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                "org.freedesktop.systemd1.Manager", "StartTransientUnit");
    if (r >= 0) r = api.append(m, "ss", unit.c_str(), "fail");
    if (r >= 0) r = api.open_container(m, 'a', "(sv)");
    if (r >= 0) r = api.append(m, "(sv)", "PIDs", "au", 1, static_cast<uint32_t>(pid));
    if (r >= 0) r = api.append(m, "(sv)", "Delegate", "b", 1);
    if (r >= 0) r = api.append(m, "(sv)", "Slice", "s", slice.c_str());
    if (r >= 0) r = api.append(m, "(sv)", "Description", "s", description.c_str());
    if (r >= 0) r = api.append(m, "(sv)", "CollectMode", "s", "inactive-or-failed");
    if (r >= 0) r = api.close_container(m);
    if (r >= 0) r = api.append(m, "a(sa(sv))", 0);
    if (r < 0) {
      if (m) api.message_unref(m);
      throw sys_error("build the D-Bus message for systemd", -r);
    }
    r = api.call(bus, m, 30ULL * 1000000, &err, &reply);
    api.message_unref(m);
    if (reply) api.message_unref(reply);
    std::string msg = err.message ? err.message : "";
    bool exists = r < 0 && api.error_has_name(&err, "org.freedesktop.systemd1.UnitExists");
    api.error_free(&err);
    if (r >= 0) return true;
    if (exists && retry) return false;
    throw Error(fmt::format("systemd refused to start the scope {}: {}", unit,
                            msg.empty() ? std::string(std::strerror(-r)) : msg));
  };
  try {
    if (!call(true)) {
      // A stale unit of an earlier run (failed, not yet collected): reset it.
      sd_bus_message* m = nullptr;
      sd_bus_error err{};  // SD_BUS_ERROR_NULL, whose compound literal clang refuses in C++
      if (api.new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                              "org.freedesktop.systemd1.Manager", "ResetFailedUnit") >= 0 &&
          api.append(m, "s", unit.c_str()) >= 0)
        api.call(bus, m, 10ULL * 1000000, &err, nullptr);
      if (m) api.message_unref(m);
      api.error_free(&err);
      call(false);
    }
  } catch (...) {
    api.flush_close_unref(bus);
    throw;
  }
  api.flush_close_unref(bus);
  // The job moves pid into the scope; wait for it (seconds under emulation).
  for (int i = 0; i < 3000; i++) {
    std::string now = ::getpid() == pid ? cgroup_of_self() : "";
    if (::getpid() != pid) {
      if (auto t = read_file_if_exists(fmt::format("/proc/{}/cgroup", pid)))
        for (const auto& line : split(*t, '\n'))
          if (line.rfind("0::", 0) == 0) now = line.substr(3);
    }
    if (now.size() > unit.size() && now.compare(now.size() - unit.size() - 1, std::string::npos, "/" + unit) == 0)
      return "/sys/fs/cgroup" + now;
    ::usleep(10000);
  }
  throw Error(fmt::format("systemd did not move the monitor into {} within 30 s", unit));
}

}  // namespace den
