// Commands that look at a container's processes and file system: top, port,
// diff, export, commit; and `system check`, which looks for leftovers.
//
// diff/export/commit read the container's overlay upper directory, whose
// files belong to subordinate ids, so they first enter den's user namespace
// (as import does). export mounts the container's file system read-only in a
// private mount namespace (upper dir as the top lower layer) and tars it;
// commit tars the upper dir itself, turning overlay whiteouts back into OCI
// ones.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <tuple>

#include "cli.h"
#include "den/container.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/hash.h"
#include "den/host_info.h"
#include "den/image.h"
#include "den/image_archive.h"
#include "den/log.h"
#include "den/monitor.h"
#include "den/network.h"
#include "den/reference.h"
#include "den/strings.h"
#include "den/timefmt.h"
#include "den/userns.h"
#include "den/pod.h"

namespace den::cli {

namespace {

ContainerStore containers(Context& ctx) { return ContainerStore(ctx.store()); }

bool is_live(const ContainerState& st) {
  return st.status == ContainerStatus::Running || st.status == ContainerStatus::Paused ||
         st.status == ContainerStatus::Stopping;
}

// ---- processes ---------------------------------------------------------------

std::string readlink_str(const std::string& path) {
  char buf[4096];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n < 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long v = std::strtol(e->d_name, &end, 10);
    if (end && *end == 0 && v > 0) out.push_back(static_cast<pid_t>(v));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

pid_t ppid_of(pid_t pid) {
  auto stat = read_file_if_exists(fmt::format("/proc/{}/stat", pid));
  if (!stat) return -1;
  auto rp = stat->rfind(')');
  if (rp == std::string::npos) return -1;
  std::vector<std::string> f = split(stat->substr(rp + 2), ' ');
  return f.size() > 1 ? static_cast<pid_t>(std::atol(f[1].c_str())) : -1;
}

uid_t owner_of(pid_t pid) {
  struct stat st;
  if (::stat(fmt::format("/proc/{}", pid).c_str(), &st) != 0) return static_cast<uid_t>(-1);
  return st.st_uid;
}

std::vector<std::string> cmdline_of(pid_t pid) {
  std::vector<std::string> out;
  std::optional<std::string> raw;
  try {
    raw = read_file_if_exists(fmt::format("/proc/{}/cmdline", pid));
  } catch (const Error&) {
    return out;  // it exited meanwhile (ESRCH)
  }
  if (!raw) return out;
  std::string cur;
  for (char ch : *raw) {
    if (ch == 0) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string comm_of(pid_t pid) {
  auto c = read_file_if_exists(fmt::format("/proc/{}/comm", pid));
  return c ? trim(*c) : "";
}

// The container's processes: those in its init's pid namespace (unless that
// is the host's), and the init's descendants.
std::vector<pid_t> container_pids(pid_t init) {
  std::set<pid_t> out;
  std::vector<pid_t> pids = all_pids();
  std::string ns = readlink_str(fmt::format("/proc/{}/ns/pid", init));
  std::string own = readlink_str("/proc/self/ns/pid");
  if (!ns.empty() && ns != own)
    for (pid_t p : pids)
      if (readlink_str(fmt::format("/proc/{}/ns/pid", p)) == ns) out.insert(p);
  std::multimap<pid_t, pid_t> children;
  for (pid_t p : pids) children.emplace(ppid_of(p), p);
  std::vector<pid_t> todo = {init};
  while (!todo.empty()) {
    pid_t p = todo.back();
    todo.pop_back();
    if (!out.insert(p).second && p != init) continue;
    auto [b, e] = children.equal_range(p);
    for (auto it = b; it != e; ++it)
      if (!out.count(it->second)) todo.push_back(it->second);
  }
  std::vector<pid_t> v;
  for (pid_t p : out)
    if (path_exists(fmt::format("/proc/{}", p))) v.push_back(p);
  return v;
}

struct Captured {
  int status = 0;  // exit code, 128+N when killed
  std::string out, err;
};

// Runs argv (PATH lookup) and captures its output.
Captured run_capture(const std::vector<std::string>& argv) {
  int op[2], ep[2];
  if (::pipe2(op, O_CLOEXEC) != 0) throw sys_error("pipe");
  if (::pipe2(ep, O_CLOEXEC) != 0) throw sys_error("pipe");
  std::vector<char*> av;
  for (const auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) throw sys_error("fork");
  if (pid == 0) {
    ::dup2(op[1], 1);
    ::dup2(ep[1], 2);
    ::execvp(av[0], av.data());
    std::string msg = fmt::format("{}: {}\n", argv[0], std::strerror(errno));
    ssize_t n = ::write(2, msg.data(), msg.size());
    (void)n;
    ::_exit(127);
  }
  ::close(op[1]);
  ::close(ep[1]);
  Captured c;
  struct pollfd p[2] = {{op[0], POLLIN, 0}, {ep[0], POLLIN, 0}};
  int open = 2;
  char buf[65536];
  while (open > 0) {
    if (::poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(p[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? c.out : c.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(p[i].fd);
        p[i].fd = -1;
        open--;
      }
    }
  }
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  c.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return c;
}

std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> f;
  for (const auto& w : split(line, ' '))
    if (!w.empty()) f.push_back(w);
  return f;
}

// ---- top -------------------------------------------------------------------

struct Descriptor {
  const char* name;
  const char* ps_field;
  const char* header;
};

// podman's AIX-style format descriptors.
const Descriptor kDescriptors[] = {
    {"pid", "pid", "PID"},        {"ppid", "ppid", "PPID"},       {"user", "uid", "USER"},
    {"group", "gid", "GROUP"},    {"ruser", "ruid", "RUSER"},     {"rgroup", "rgid", "RGROUP"},
    {"args", "args", "COMMAND"},  {"comm", "comm", "COMMAND"},    {"%CPU", "pcpu", "%CPU"},
    {"pcpu", "pcpu", "%CPU"},     {"etime", "etime", "ELAPSED"},  {"time", "time", "TIME"},
    {"tty", "tty", "TTY"},        {"vsz", "vsz", "VSZ"},          {"nice", "nice", "NI"},
    {"hpid", "pid", "HPID"},      {"huser", "user", "HUSER"},     {"hgroup", "group", "HGROUP"},
};

const Descriptor* find_descriptor(const std::string& s) {
  for (const auto& d : kDescriptors)
    if (s == d.name) return &d;
  return nullptr;
}

// "NSpid" of a process: its pid in its own (innermost) namespace.
std::string ns_pid(pid_t pid) {
  auto st = read_file_if_exists(fmt::format("/proc/{}/status", pid));
  if (!st) return std::to_string(pid);
  for (const auto& line : split(*st, '\n'))
    if (line.rfind("NSpid:", 0) == 0) {
      std::string rest = line.substr(6);
      std::replace(rest.begin(), rest.end(), '\t', ' ');
      std::vector<std::string> f = fields_of(rest);
      if (!f.empty()) return f.back();
    }
  return std::to_string(pid);
}

// Names from the container's /etc/passwd or /etc/group (via /proc/PID/root).
std::map<std::string, std::string> id_names(pid_t init, const char* file) {
  std::map<std::string, std::string> out;
  auto text = read_file_if_exists(fmt::format("/proc/{}/root/etc/{}", init, file));
  if (!text) return out;
  for (const auto& line : split(*text, '\n')) {
    std::vector<std::string> f = split(line, ':');
    if (f.size() >= 3 && !f[0].empty()) out.emplace(f[2], f[0]);
  }
  return out;
}

int top_descriptors(Context& ctx, pid_t init, const std::vector<pid_t>& pids, const std::vector<std::string>& descs) {
  std::vector<std::string> pid_list;
  for (pid_t p : pids) pid_list.push_back(std::to_string(p));
  // Host id -> container id, from den's mapping.
  std::vector<IdMap> umap, gmap;
  if (ctx.config().rootless) {
    try {
      IdMappings m = rootless_id_mappings(ctx.config());
      umap = m.uids;
      gmap = m.gids;
    } catch (const Error&) {
    }
  }
  auto to_container = [](const std::vector<IdMap>& maps, const std::string& host) {
    if (maps.empty()) return host;
    long h = std::atol(host.c_str());
    for (const auto& m : maps)
      if (h >= m.host_id && h < static_cast<long>(m.host_id) + m.size)
        return std::to_string(m.container_id + static_cast<uint32_t>(h - m.host_id));
    return std::string("65534");
  };
  std::map<std::string, std::string> users = id_names(init, "passwd"), groups = id_names(init, "group");
  std::vector<std::map<pid_t, std::string>> cols;
  std::string header;
  for (const auto& name : descs) {
    const Descriptor* d = find_descriptor(name);
    Captured c = run_capture({"ps", "-o", "pid=", "-o", std::string(d->ps_field) + "=", "-p", join(pid_list, ",")});
    if (c.status != 0 && c.status != 1)
      throw Error(fmt::format("ps failed: {}", trim(c.err)), Errc::Generic);
    std::map<pid_t, std::string> col;
    for (const auto& line : split(c.out, '\n')) {
      std::string l = trim(line);
      if (l.empty()) continue;
      auto sp = l.find(' ');
      pid_t p = static_cast<pid_t>(std::atol(l.substr(0, sp).c_str()));
      std::string v = sp == std::string::npos ? "" : trim(l.substr(sp));
      std::string dn = d->name;
      if (dn == "pid") v = ns_pid(p);
      else if (dn == "ppid") {
        pid_t pp = static_cast<pid_t>(std::atol(v.c_str()));
        v = pp > 0 && p != init && std::find(pids.begin(), pids.end(), pp) != pids.end() ? ns_pid(pp) : "0";
      }
      else if (dn == "user" || dn == "ruser") {
        v = to_container(umap, v);
        if (auto it = users.find(v); it != users.end()) v = it->second;
      } else if (dn == "group" || dn == "rgroup") {
        v = to_container(gmap, v);
        if (auto it = groups.find(v); it != groups.end()) v = it->second;
      }
      col[p] = v;
    }
    cols.push_back(std::move(col));
    header += (header.empty() ? "" : "\t") + std::string(d->header);
  }
  std::vector<std::string> lines = {header};
  for (pid_t p : pids) {
    if (!cols.front().count(p)) continue;
    std::string row;
    for (size_t i = 0; i < cols.size(); i++) {
      auto it = cols[i].find(p);
      row += (i ? "\t" : "") + (it == cols[i].end() ? std::string("?") : it->second);
    }
    lines.push_back(row);
  }
  out(tabwrite(lines));
  return 0;
}

int cmd_top(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  std::string id = cs.resolve(a.positional[0]);
  ContainerState st = cs.state(id);
  if (!is_live(st) || st.pid <= 0)
    throw Error(fmt::format("container {} is not running", a.positional[0]), Errc::Invalid);
  std::vector<std::string> opts(a.positional.begin() + 1, a.positional.end());
  std::vector<pid_t> pids = container_pids(st.pid);
  bool descriptors = !opts.empty() && std::all_of(opts.begin(), opts.end(), [](const std::string& s) {
    return find_descriptor(s) != nullptr;
  });
  if (descriptors) return top_descriptors(ctx, st.pid, pids, opts);
  if (opts.empty()) opts = {"-ef"};
  std::vector<std::string> argv = {"ps"};
  argv.insert(argv.end(), opts.begin(), opts.end());
  Captured c = run_capture(argv);
  if (c.status != 0)
    throw Error(fmt::format("ps {}: {}", join(opts, " "), trim(c.err).empty() ? "failed" : trim(c.err)), Errc::Invalid);
  std::vector<std::string> lines = split(c.out, '\n');
  if (lines.empty() || trim(lines[0]).empty()) throw Error("ps printed nothing", Errc::Generic);
  std::vector<std::string> head = fields_of(lines[0]);
  auto pos = std::find(head.begin(), head.end(), "PID");
  if (pos == head.end()) throw Error("Couldn't find PID field in ps output", Errc::Invalid);
  size_t idx = static_cast<size_t>(pos - head.begin());
  std::set<pid_t> want(pids.begin(), pids.end());
  std::string text = lines[0] + "\n";
  for (size_t i = 1; i < lines.size(); i++) {
    std::vector<std::string> f = fields_of(lines[i]);
    if (f.size() <= idx) continue;
    char* end = nullptr;
    long p = std::strtol(f[idx].c_str(), &end, 10);
    if (end && *end == 0 && want.count(static_cast<pid_t>(p))) text += lines[i] + "\n";
  }
  out(text);
  return 0;
}

// ---- port ------------------------------------------------------------------

struct PortMapping {
  std::string host_ip;
  int host_port = 0;
  int container_port = 0;
  std::string protocol = "tcp";
};

// Published ports from config.json (several spellings are read: den's own
// once published ports exist, podman's PortMapping, docker's PortBindings).
std::vector<PortMapping> published_ports(ContainerStore& cs, const std::string& id) {
  std::vector<PortMapping> out;
  Json j = Json::parse(read_file(cs.dir(id) + "/config.json"), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return out;
  for (const char* key : {"ports", "port_mappings", "published_ports", "PortMappings"}) {
    if (!j.contains(key) || !j[key].is_array()) continue;
    for (const auto& p : j[key]) {
      if (!p.is_object()) continue;
      PortMapping m;
      auto num = [&](std::initializer_list<const char*> keys) {
        for (const char* k : keys)
          if (p.contains(k)) {
            if (p[k].is_number()) return p[k].get<int>();
            if (p[k].is_string()) return std::atoi(p[k].get<std::string>().c_str());
          }
        return 0;
      };
      auto str = [&](std::initializer_list<const char*> keys, const std::string& def) {
        for (const char* k : keys)
          if (p.contains(k) && p[k].is_string() && !p[k].get<std::string>().empty()) return p[k].get<std::string>();
        return def;
      };
      m.container_port = num({"container_port", "ContainerPort", "containerPort"});
      m.host_port = num({"host_port", "HostPort", "hostPort"});
      m.host_ip = str({"host_ip", "HostIp", "HostIP", "hostIP"}, "0.0.0.0");
      m.protocol = to_lower(str({"protocol", "Protocol"}, "tcp"));
      int range = std::max(1, num({"range", "Range"}));
      for (int i = 0; i < range; i++) {
        PortMapping r = m;
        r.container_port += i;
        if (r.host_port) r.host_port += i;
        if (r.container_port > 0) out.push_back(r);
      }
    }
    break;
  }
  return out;
}

std::string host_addr(const PortMapping& m) {
  std::string ip = m.host_ip.find(':') != std::string::npos ? "[" + m.host_ip + "]" : m.host_ip;
  return fmt::format("{}:{}", ip, m.host_port);
}

int cmd_port(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  std::string id = cs.resolve(a.positional[0]);
  std::vector<PortMapping> ports = published_ports(cs, id);
  std::sort(ports.begin(), ports.end(), [](const PortMapping& x, const PortMapping& y) {
    return std::tie(x.container_port, x.protocol, x.host_ip, x.host_port) <
           std::tie(y.container_port, y.protocol, y.host_ip, y.host_port);
  });
  std::string text;
  if (a.positional.size() > 1) {
    std::string arg = a.positional[1];
    bool has_proto = false;
    auto [port_s, proto] = split_once(arg, '/', &has_proto);
    if (!has_proto) proto = "tcp";
    proto = to_lower(proto);
    char* end = nullptr;
    long port = std::strtol(port_s.c_str(), &end, 10);
    if (port_s.empty() || !end || *end != 0 || port < 1 || port > 65535 ||
        (proto != "tcp" && proto != "udp" && proto != "sctp"))
      throw Error(fmt::format("invalid port \"{}\": use PORT or PORT/PROTO (tcp, udp, sctp), PORT in 1-65535", arg),
                  Errc::Invalid);
    for (const auto& m : ports)
      if (m.container_port == port && m.protocol == proto) text += host_addr(m) + "\n";
    if (text.empty())
      throw Error(fmt::format("No public port '{}/{}' published for {}", port, proto, a.positional[0]),
                  Errc::NotFound);
  } else {
    for (const auto& m : ports) text += fmt::format("{}/{} -> {}\n", m.container_port, m.protocol, host_addr(m));
  }
  out(text);
  return 0;
}

// ---- file system walks ---------------------------------------------------------

std::vector<std::string> sorted_entries(const std::string& dir) {
  std::vector<std::string> names = list_dir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

bool is_whiteout(const struct stat& st) { return S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0); }

std::string get_xattr(const std::string& path, const char* name) {
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), name, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

bool is_opaque(const std::string& path) {
  return get_xattr(path, "user.overlay.opaque") == "y" || get_xattr(path, "trusted.overlay.opaque") == "y" ||
         get_xattr(path, "user.fuseoverlayfs.opaque") == "y";
}

// Overlay-internal xattrs are not part of the file's content.
bool internal_xattr(std::string_view name) {
  for (std::string_view p : {"user.overlay.", "trusted.overlay.", "user.fuseoverlayfs.", "security.selinux"})
    if (name.rfind(p, 0) == 0) return true;
  return false;
}

// The image's layer directories, top first, for a container.
std::vector<std::string> lower_dirs(ContainerStore& cs, const ContainerConfig& c) {
  std::vector<std::string> out;
  if (c.image_id.empty()) return out;
  ImageRecord img = cs.store().lookup_image(c.image_id);
  std::vector<std::string> diff_ids;
  for (const auto& l : img.layers) diff_ids.push_back(l.diff_id);
  for (const auto& chain : chain_ids(diff_ids)) out.push_back(cs.store().layer_diff(chain));
  std::reverse(out.begin(), out.end());
  return out;
}

// Whether rel ("a/b") exists in the image (layers top first), honoring
// whiteouts and opaque directories. Fills *st with its stat when it does.
bool exists_in_lowers(const std::vector<std::string>& lowers, const std::string& rel, struct stat* out = nullptr) {
  for (const auto& l : lowers) {
    struct stat st;
    std::string p = l + "/" + rel;
    if (::lstat(p.c_str(), &st) == 0) {
      if (is_whiteout(st)) return false;
      if (out) *out = st;
      return true;
    }
    // An opaque ancestor in this layer hides the layers below.
    std::string dir = rel;
    bool hidden = false;
    while (!dir.empty()) {
      auto slash = dir.rfind('/');
      dir = slash == std::string::npos ? "" : dir.substr(0, slash);
      std::string dp = dir.empty() ? l : l + "/" + dir;
      struct stat ds;
      if (::lstat(dp.c_str(), &ds) == 0) {
        if (is_whiteout(ds) || !S_ISDIR(ds.st_mode) || (!dir.empty() && is_opaque(dp))) hidden = true;
        if (!dir.empty()) break;
      }
    }
    if (hidden) return false;
  }
  return false;
}

enum class ChangeKind { Added, Changed, Deleted };
struct Change {
  std::string path;  // relative, "a/b"
  ChangeKind kind;
  bool opaque = false;
  struct stat st {};
};

// Files den creates in the upper dir as mount points (docker keeps them in a
// separate init layer, so they never show up in diff or commit).
std::set<std::string> mount_targets(const ContainerConfig& c) {
  std::set<std::string> t = {"etc/hosts", "etc/hostname", "etc/resolv.conf", "run/den-init", "proc", "sys",
                             "dev", "dev/pts", "dev/shm", "dev/mqueue"};
  for (const char* d : {"null", "zero", "full", "tty", "random", "urandom", "console"}) t.insert(std::string("dev/") + d);
  for (const auto& m : c.mounts) {
    auto p = m.destination;
    while (!p.empty() && p.front() == '/') p.erase(0, 1);
    if (!p.empty()) t.insert(p);
  }
  return t;
}

// Walks the upper dir: docker's change list, sorted by path.
class UpperWalker {
 public:
  UpperWalker(std::string upper, std::vector<std::string> lowers, std::set<std::string> targets)
      : upper_(std::move(upper)), lowers_(std::move(lowers)), targets_(std::move(targets)) {}

  std::vector<Change> run() {
    std::vector<Change> out;
    walk("", out);
    return out;
  }

 private:
  // Appends rel's children's changes; returns whether it skipped any entry.
  bool walk(const std::string& rel, std::vector<Change>& out) {
    bool skipped = false;
    std::string dir = rel.empty() ? upper_ : upper_ + "/" + rel;
    for (const auto& name : sorted_entries(dir)) {
      std::string crel = rel.empty() ? name : rel + "/" + name;
      std::string full = upper_ + "/" + crel;
      struct stat st;
      if (::lstat(full.c_str(), &st) != 0) continue;
      if (is_whiteout(st)) {
        out.push_back({crel, ChangeKind::Deleted, false, st});
        continue;
      }
      struct stat lst {};
      bool in_lower = exists_in_lowers(lowers_, crel, &lst);
      if (!in_lower && targets_.count(crel) &&
          ((S_ISREG(st.st_mode) && st.st_size == 0) || (S_ISDIR(st.st_mode) && list_dir(full).empty()))) {
        skipped = true;
        continue;
      }
      Change ch{crel, in_lower ? ChangeKind::Changed : ChangeKind::Added, false, st};
      if (!S_ISDIR(st.st_mode)) {
        out.push_back(ch);
        continue;
      }
      ch.opaque = is_opaque(full);
      if (ch.opaque) ch.kind = ChangeKind::Changed;
      size_t at = out.size();
      out.push_back(ch);
      bool child_skipped = walk(crel, out);
      bool has_children = out.size() > at + 1;
      if (has_children || ch.opaque) continue;
      // A directory with nothing else to report: keep it when it is new (and
      // not only there for den's mount points) or its own metadata changed.
      bool keep;
      if (ch.kind == ChangeKind::Added) {
        keep = !child_skipped;
      } else {
        bool meta = (lst.st_mode != st.st_mode) || lst.st_uid != st.st_uid || lst.st_gid != st.st_gid;
        keep = meta || !child_skipped;
      }
      if (!keep) {
        out.resize(at);
        skipped = true;
      }
    }
    return skipped;
  }

  std::string upper_;
  std::vector<std::string> lowers_;
  std::set<std::string> targets_;
};

// ---- tar output ----------------------------------------------------------------

// A tar stream (pax) written to a file descriptor, optionally hashed.
class TarWriter {
 public:
  TarWriter(int fd, Sha256* hash) : fd_(fd), hash_(hash) {
    a_ = archive_write_new();
    archive_write_set_format_pax_restricted(a_);
    archive_write_set_bytes_in_last_block(a_, 1);
    if (archive_write_open2(a_, this, nullptr, &TarWriter::write_cb, nullptr, nullptr) != ARCHIVE_OK) fail("open");
  }
  ~TarWriter() { archive_write_free(a_); }
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Adds the file at `full` as entry `name` (keeps owners, modes, times,
  // xattrs; later names of a hard-linked inode become hard links).
  void add(const std::string& name, const std::string& full, const struct stat& st) {
    struct archive_entry* e = archive_entry_new();
    struct Free {
      struct archive_entry* e;
      ~Free() { archive_entry_free(e); }
    } guard{e};
    archive_entry_set_pathname(e, (S_ISDIR(st.st_mode) ? name + "/" : name).c_str());
    archive_entry_set_mode(e, st.st_mode);
    archive_entry_set_uid(e, st.st_uid);
    archive_entry_set_gid(e, st.st_gid);
    archive_entry_set_mtime(e, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    UniqueFd fd;
    if (S_ISREG(st.st_mode)) {
      if (st.st_nlink > 1) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        auto it = links_.find(key);
        if (it != links_.end()) {
          archive_entry_set_hardlink(e, it->second.c_str());
          archive_entry_set_size(e, 0);
          header(e, name);
          return;
        }
        links_[key] = name;
      }
      fd = open_file(full, O_RDONLY | O_NOFOLLOW);
      archive_entry_set_size(e, st.st_size);
    } else if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t n = ::readlink(full.c_str(), buf, sizeof buf - 1);
      if (n < 0) throw sys_error("readlink " + full);
      archive_entry_set_symlink(e, std::string(buf, static_cast<size_t>(n)).c_str());
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      archive_entry_set_rdevmajor(e, major(st.st_rdev));
      archive_entry_set_rdevminor(e, minor(st.st_rdev));
    } else if (S_ISSOCK(st.st_mode)) {
      return;  // tar has no sockets
    }
    if (!S_ISLNK(st.st_mode)) add_xattrs(e, full);
    header(e, name);
    if (fd) {
      std::string buf(128 * 1024, '\0');
      uint64_t left = static_cast<uint64_t>(st.st_size);
      while (left > 0) {
        size_t n = read_some(fd.get(), buf.data(), std::min<uint64_t>(buf.size(), left));
        if (n == 0) break;  // shrank meanwhile: libarchive pads with zeros
        if (archive_write_data(a_, buf.data(), n) < 0) fail(name);
        left -= n;
      }
    }
  }

  // An empty regular file (OCI whiteouts), owned by 0:0.
  void add_empty(const std::string& name, int64_t mtime) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0);
    archive_entry_set_size(e, 0);
    archive_entry_set_mtime(e, mtime, 0);
    int r = archive_write_header(a_, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK) fail(name);
  }

  void finish() {
    if (archive_write_close(a_) != ARCHIVE_OK) fail("close");
  }
  uint64_t bytes() const { return bytes_; }

 private:
  static la_ssize_t write_cb(struct archive*, void* self, const void* buf, size_t n) {
    auto* w = static_cast<TarWriter*>(self);
    const char* p = static_cast<const char*>(buf);
    size_t done = 0;
    while (done < n) {
      ssize_t r = ::write(w->fd_, p + done, n - done);
      if (r < 0) {
        if (errno == EINTR) continue;
        w->errno_ = errno;
        return -1;
      }
      done += static_cast<size_t>(r);
    }
    if (w->hash_) w->hash_->update(buf, n);
    w->bytes_ += n;
    return static_cast<la_ssize_t>(n);
  }
  void add_xattrs(struct archive_entry* e, const std::string& full) {
    char names[8192];
    ssize_t n = ::llistxattr(full.c_str(), names, sizeof names);
    if (n <= 0) return;
    for (const char* p = names; p < names + n; p += std::strlen(p) + 1) {
      if (internal_xattr(p)) continue;
      char val[65536];
      ssize_t vn = ::lgetxattr(full.c_str(), p, val, sizeof val);
      if (vn >= 0) archive_entry_xattr_add_entry(e, p, val, static_cast<size_t>(vn));
    }
  }
  void header(struct archive_entry* e, const std::string& name) {
    if (archive_write_header(a_, e) != ARCHIVE_OK) fail(name);
  }
  [[noreturn]] void fail(const std::string& what) {
    if (errno_) throw sys_error("write tar", errno_);
    const char* m = archive_error_string(a_);
    throw Error(fmt::format("write tar: {}: {}", what, m ? m : "unknown error"));
  }

  struct archive* a_;
  int fd_;
  Sha256* hash_;
  uint64_t bytes_ = 0;
  int errno_ = 0;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

// Every entry under root, depth first, parents before children.
void tar_tree(TarWriter& w, const std::string& root, const std::string& rel) {
  std::string dir = rel.empty() ? root : root + "/" + rel;
  for (const auto& name : sorted_entries(dir)) {
    std::string crel = rel.empty() ? name : rel + "/" + name;
    std::string full = root + "/" + crel;
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) continue;
    w.add(crel, full, st);
    if (S_ISDIR(st.st_mode)) tar_tree(w, root, crel);
  }
}

// A layer tar of the changes: overlay whiteouts become OCI ones.
void tar_changes(TarWriter& w, const std::string& upper, const std::vector<Change>& changes) {
  for (const auto& c : changes) {
    if (c.kind == ChangeKind::Deleted) {
      std::string dir = dirname_of(c.path), base = basename_of(c.path);
      w.add_empty(dir == "." || dir.empty() ? ".wh." + base : dir + "/.wh." + base, c.st.st_mtim.tv_sec);
      continue;
    }
    w.add(c.path, upper + "/" + c.path, c.st);
    if (c.opaque) w.add_empty(c.path + "/.wh..wh..opq", c.st.st_mtim.tv_sec);
  }
}

std::string upper_dir(ContainerStore& cs, const std::string& id) { return cs.dir(id) + "/upper"; }

// ---- diff --------------------------------------------------------------------

std::vector<Change> container_changes(ContainerStore& cs, const ContainerConfig& c) {
  if (!c.rootfs.empty())
    throw Error(fmt::format("container {} runs on a --rootfs directory: it has no layer of changes", c.name),
                Errc::Unsupported);
  std::string upper = upper_dir(cs, c.id);
  if (!is_dir(upper)) return {};
  return UpperWalker(upper, lower_dirs(cs, c), mount_targets(c)).run();
}

int cmd_diff(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  std::string id = cs.resolve(a.positional[0]);
  ContainerConfig c = cs.config(id);
  ctx.enter_userns();
  std::string text;
  for (const auto& ch : container_changes(cs, c)) {
    char k = ch.kind == ChangeKind::Added ? 'A' : ch.kind == ChangeKind::Deleted ? 'D' : 'C';
    text += fmt::format("{} /{}\n", k, ch.path);
  }
  out(text);
  return 0;
}

// ---- export --------------------------------------------------------------------

// Mounts the container's file system read-only in a new private mount
// namespace; returns its path. Caller is root in den's user namespace.
std::string mount_rootfs(ContainerStore& cs, const ContainerConfig& c) {
  if (!c.rootfs.empty()) return c.rootfs;
  const Config& cfg = cs.store().config();
  std::vector<std::string> lowers = lower_dirs(cs, c);
  std::string cdir = cs.dir(c.id);
  std::string upper = upper_dir(cs, c.id);
  mkdirs(upper, 0755);
  if (lowers.empty()) {
    mkdirs(cdir + "/empty", 0755);
    lowers.push_back(cdir + "/empty");
  }
  if (::unshare(CLONE_NEWNS) != 0) throw sys_error("unshare the mount namespace");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) throw sys_error("make mounts private");
  std::string mnt = cdir + "/merged";
  mkdirs(mnt, 0755);
  // Paths relative to the store keep the mount options short (they are
  // limited to a page): the kernel resolves them against our cwd.
  std::string rootdir = cs.store().root();
  auto rel = [&](const std::string& p) {
    return p.rfind(rootdir + "/", 0) == 0 ? p.substr(rootdir.size() + 1) : p;
  };
  std::string opts = "lowerdir=" + rel(upper);
  for (const auto& l : lowers) opts += ":" + rel(l);
  if (cfg.rootless) opts += ",userxattr";
  UniqueFd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (::chdir(rootdir.c_str()) != 0) throw sys_error("chdir " + rootdir);
  int r = ::mount("overlay", mnt.c_str(), "overlay", MS_RDONLY, opts.c_str());
  int e = errno;
  if (cwd && ::fchdir(cwd.get()) != 0) throw sys_error("fchdir");
  if (r != 0)
    throw sys_error(fmt::format("mount the container's file system (overlay, {} layers)", lowers.size() + 1), e);
  return mnt;
}

int cmd_export(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  std::string id = cs.resolve(a.positional[0]);
  ContainerConfig c = cs.config(id);
  std::string output = a.value("output");
  ArchiveOutput file(output);
  ctx.enter_userns();
  std::string root = mount_rootfs(cs, c);
  TarWriter w(file.fd(), nullptr);
  tar_tree(w, root, "");
  w.finish();
  file.commit();
  return 0;
}

// ---- commit ----------------------------------------------------------------------

int cmd_commit(Context& ctx, const Args& a) {
  ContainerStore cs = containers(ctx);
  std::string id = cs.resolve(a.positional[0]);
  ContainerConfig c = cs.config(id);
  CommitOptions opts;
  opts.changes = a.list("change");
  opts.message = a.value("message");
  opts.author = a.value("author");
  opts.container_id = id;
  if (a.positional.size() > 1) opts.name = parse_named_tagged(a.positional[1]).string();
  {
    Json probe = Json::object();  // bad --change values fail before any work
    for (const auto& ch : opts.changes) apply_change(probe, ch);
  }
  std::optional<ImageRecord> base;
  if (!c.image_id.empty()) {
    base = ctx.store().find_image(c.image_id);
    if (!base) throw Error(fmt::format("the image of container {} ({}) is gone", a.positional[0], c.image_name),
                           Errc::NotFound);
  }
  // The container's settings become the image's, as docker commit does.
  Json cc = base ? load_image_config(ctx.store(), *base).value("config", Json::object()) : Json::object();
  if (!cc.is_object()) cc = Json::object();
  cc["Env"] = c.env;
  if (c.cmd.empty()) cc.erase("Cmd");
  else cc["Cmd"] = c.cmd;
  if (c.entrypoint.empty()) cc.erase("Entrypoint");
  else cc["Entrypoint"] = c.entrypoint;
  if (c.workdir.empty()) cc.erase("WorkingDir");
  else cc["WorkingDir"] = c.workdir;
  if (c.user.empty()) cc.erase("User");
  else cc["User"] = c.user;
  if (!c.labels.empty()) {
    if (!cc.contains("Labels") || !cc["Labels"].is_object()) cc["Labels"] = Json::object();
    for (const auto& [k, v] : c.labels) cc["Labels"][k] = v;
  }
  for (const auto& p : c.exposed_ports) {
    if (!cc.contains("ExposedPorts") || !cc["ExposedPorts"].is_object()) cc["ExposedPorts"] = Json::object();
    cc["ExposedPorts"][p.find('/') == std::string::npos ? p + "/tcp" : p] = Json::object();
  }
  if (c.stop_signal != "SIGTERM" && !c.stop_signal.empty()) cc["StopSignal"] = c.stop_signal;
  opts.config = cc;
  std::vector<std::string> argv = c.argv();
  std::vector<std::string> quoted;
  for (const auto& w : argv) quoted.push_back(shell_quote(w));
  opts.created_by = join(quoted, " ");

  ctx.enter_userns();
  Store& store = ctx.store();
  store.prepare_for_write();
  FileLock gc = store.hold_off_gc();
  Store::Staging st = store.staging("commit");
  std::string layer = st.path() + "/layer";
  Sha256 hash;
  uint64_t size = 0;
  {
    UniqueFd lf = open_file(layer, O_WRONLY | O_CREAT | O_EXCL, 0644);
    TarWriter w(lf.get(), &hash);
    if (!c.rootfs.empty()) {
      tar_tree(w, c.rootfs, "");
    } else {
      FileLock l = cs.lock(id);  // no start/remove while the upper dir is read
      tar_changes(w, upper_dir(cs, id), container_changes(cs, c));
    }
    w.finish();
    size = w.bytes();
  }
  ImageRecord rec = commit_layer(store, base ? &*base : nullptr, layer, hash.digest(), size, opts);
  out(rec.config_digest() + "\n");
  return 0;
}

// ---- system check ------------------------------------------------------------------

struct Problem {
  std::string text;
  std::function<bool()> repair;  // null: can't be repaired; returns success
};

// The kernel's start time of a process and the boot time, to skip processes
// that are only a moment old (a container starting right now).
double process_age_seconds(pid_t pid) {
  uint64_t start = process_start_time(pid);
  auto up = read_file_if_exists("/proc/uptime");
  if (!start || !up) return 1e9;
  double uptime = std::atof(up->c_str());
  return uptime - static_cast<double>(start) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Whether any open file, the cwd or a unix socket of pid is under one of the roots.
bool process_uses(pid_t pid, const std::vector<std::string>& roots, const std::map<std::string, std::string>& sockets) {
  auto under = [&](const std::string& p) {
    for (const auto& r : roots)
      if (!r.empty() && (p == r || p.rfind(r + "/", 0) == 0)) return true;
    return false;
  };
  if (under(readlink_str(fmt::format("/proc/{}/cwd", pid)))) return true;
  std::string fddir = fmt::format("/proc/{}/fd", pid);
  DIR* d = ::opendir(fddir.c_str());
  if (!d) return false;
  bool found = false;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::string target = readlink_str(fddir + "/" + e->d_name);
    if (target.rfind("socket:[", 0) == 0) {
      auto it = sockets.find(target.substr(8, target.size() - 9));
      if (it != sockets.end()) target = it->second;
    }
    if (under(target)) {
      found = true;
      break;
    }
  }
  ::closedir(d);
  return found;
}

// inode -> path of bound unix sockets.
std::map<std::string, std::string> unix_sockets() {
  std::map<std::string, std::string> out;
  auto text = read_file_if_exists("/proc/net/unix");
  if (!text) return out;
  for (const auto& line : split(*text, '\n')) {
    std::vector<std::string> f = fields_of(line);
    if (f.size() >= 8 && f[7].size() && f[7][0] == '/') out[f[6]] = f[7];
  }
  return out;
}

bool kill_if_same(pid_t pid, uint64_t start) {
  if (process_start_time(pid) != start) return true;
  if (::kill(pid, SIGKILL) != 0 && errno != ESRCH) return false;
  for (int i = 0; i < 50 && process_start_time(pid) == start; i++) ::usleep(20000);
  return true;
}

// --host: the preflight of the host setup, one line per item with the fix.
int host_check(Context& ctx) {
  std::string text;
  bool failed = false;
  for (const auto& i : host_preflight(ctx.config())) {
    text += fmt::format("{:<5} {}: {}\n", i.level, i.what, i.detail);
    failed = failed || i.level == "fail";
  }
  out(text);
  return failed ? 1 : 0;
}

int cmd_system_check(Context& ctx, const Args& a) {
  const Config& cfg = ctx.config();
  Store& store = ctx.store();
  ContainerStore cs = containers(ctx);
  if (a.flag("host")) return host_check(ctx);
  bool repair = a.flag("repair");
  bool quick = a.flag("quick");
  std::vector<Problem> problems;
  std::string root = store.root();
  std::string runroot = cfg.runroot;

  // 1. Container states.
  std::map<pid_t, std::string> monitors;  // pid -> container id, of live containers
  std::set<std::string> live_ids;
  std::vector<std::string> ids;
  try {
    ids = cs.list_ids();
  } catch (const Error&) {
  }
  for (const auto& id : ids) {
    std::string name = id.substr(0, 12);
    auto raw = read_file_if_exists(cs.dir(id) + "/state.json");
    Json j = raw ? Json::parse(*raw, nullptr, false) : Json();
    if (!raw || j.is_discarded() || !j.is_object()) {
      problems.push_back({fmt::format("container {}: state.json is missing or corrupt", name), nullptr});
      continue;
    }
    try {
      name = cs.config(id).name;
    } catch (const Error&) {
      problems.push_back({fmt::format("container {}: config.json is missing or corrupt", name), nullptr});
    }
    ContainerState st = container_state_from_json(j);
    if (!is_live(st)) {
      // Between two runs of its restart policy the monitor waits.
      if (st.restarting && st.monitor_pid > 0 && process_start_time(st.monitor_pid) == st.monitor_start &&
          (st.boot_id.empty() || st.boot_id == current_boot_id()))
        monitors[st.monitor_pid] = id;
      continue;
    }
    bool rebooted = !st.boot_id.empty() && st.boot_id != current_boot_id();
    bool ctr_alive = !rebooted && st.pid > 0 && process_start_time(st.pid) == st.pid_start;
    bool mon_alive = !rebooted && st.monitor_pid > 0 && process_start_time(st.monitor_pid) == st.monitor_start;
    if (!ctr_alive && mon_alive) {
      // The monitor is about to record the exit: look again shortly.
      ::usleep(300000);
      raw = read_file_if_exists(cs.dir(id) + "/state.json");
      j = raw ? Json::parse(*raw, nullptr, false) : Json();
      if (!j.is_discarded() && j.is_object()) st = container_state_from_json(j);
      if (!is_live(st)) continue;
      ctr_alive = st.pid > 0 && process_start_time(st.pid) == st.pid_start;
    }
    if (ctr_alive) {
      live_ids.insert(id);
      if (mon_alive) {
        monitors[st.monitor_pid] = id;
        continue;
      }
    }
    std::string sid = id;
    if (ctr_alive) {
      // Nobody holds its stdio or will record its exit: stop it.
      pid_t pid = st.pid;
      uint64_t start = st.pid_start;
      problems.push_back({fmt::format("container {} ({}): running (pid {}) but its monitor (pid {}) is gone", name,
                                      id.substr(0, 12), st.pid, st.monitor_pid),
                          [&cs, sid, pid, start] {
                            if (!kill_if_same(pid, start)) return false;
                            FileLock l = cs.lock(sid);
                            ContainerState s =
                                container_state_from_json(Json::parse(read_file(cs.dir(sid) + "/state.json")));
                            s.status = ContainerStatus::Exited;
                            s.exit_code = 137;
                            s.finished_at = now_nanos();
                            s.pid = 0;
                            cs.save_state(sid, s);
                            return true;
                          }});
      continue;
    }
    problems.push_back({fmt::format("container {} ({}): state says {} but its process {} is gone", name,
                                    id.substr(0, 12), status_name(st.status), st.pid),
                        [&cs, sid] {
                          FileLock l = cs.lock(sid);
                          ContainerState s = container_state_from_json(
                              Json::parse(read_file(cs.dir(sid) + "/state.json")));
                          s.status = ContainerStatus::Exited;
                          if (s.exit_code == 0) s.exit_code = 137;
                          if (s.finished_at == 0) s.finished_at = now_nanos();
                          s.pid = 0;
                          cs.save_state(sid, s);
                          return true;
                        }});
  }

  // 1a. Container names of no container (a den killed between reserving
  // the name and creating the container); names being created are skipped.
  for (const auto& n : cs.dangling_names())
    problems.push_back({fmt::format("container name {} is reserved by no container", n),
                        [&cs, n] { return cs.reclaim_name(n) || !path_exists(cs.store().root() + "/containers/names/" + n); }});

  // 1b. Pods: a pod whose infra container is gone (den killed during pod
  // create or pod rm), a container whose pod is gone, names of no pod.
  {
    PodStore ps(store);
    std::set<std::string> pod_ids;
    for (const auto& p : ps.list()) {
      pod_ids.insert(p.id);
      if (!p.infra_id.empty() && !is_dir(cs.dir(p.infra_id)))
        problems.push_back({fmt::format("pod {} ({}): its infra container {} is gone: remove the pod (den pod rm -f {})",
                                        p.name, p.id.substr(0, 12), p.infra_id.substr(0, 12), p.name),
                            nullptr});
    }
    for (const auto& id : ids) {
      try {
        ContainerConfig c = cs.config(id);
        if (!c.pod.empty() && !pod_ids.count(c.pod) && !is_dir(ps.dir(c.pod)))
          problems.push_back({fmt::format("container {} ({}): its pod {} is gone: remove the container (den rm -f {})",
                                          c.name, id.substr(0, 12), c.pod.substr(0, 12), c.name),
                              nullptr});
      } catch (const Error&) {
      }
    }
    std::string names = root + "/pods/names";
    if (is_dir(names)) {
      for (const auto& n : sorted_entries(names)) {
        std::string owner = trim(read_file_if_exists(names + "/" + n).value_or(""));
        if (!owner.empty() && is_dir(ps.dir(owner))) continue;
        struct stat st;
        if (::stat((names + "/" + n).c_str(), &st) == 0 && st.st_mtime + 30 > ::time(nullptr)) continue;
        std::string path = names + "/" + n;
        problems.push_back({fmt::format("pod name {} is reserved by no pod", n),
                            [path] { return ::unlink(path.c_str()) == 0; }});
      }
    }
  }

  // 2. Staging leftovers: entries whose lock nobody holds.
  std::string tmp = root + "/tmp";
  bool staging_left = false;
  if (is_dir(tmp)) {
    for (const auto& name : sorted_entries(tmp)) {
      std::string path = tmp + "/" + name;
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".lock") == 0) {
        auto l = FileLock::try_acquire(path);
        if (!l) continue;
        staging_left = true;
        problems.push_back({fmt::format("staging leftover {} (its creator is gone)", path.substr(0, path.size() - 5)),
                            nullptr});
      } else if (!path_exists(path + ".lock")) {
        struct stat st;
        if (::lstat(path.c_str(), &st) == 0 && st.st_mtime + 60 < ::time(nullptr)) {
          staging_left = true;
          problems.push_back({fmt::format("staging leftover {}", path), nullptr});
        }
      }
    }
  }
  if (staging_left && repair) {
    for (auto& p : problems)
      if (p.text.rfind("staging leftover", 0) == 0) p.repair = [] { return true; };
    // Removed in den's user namespace (the files belong to subordinate ids).
    bool ok = true;
    try {
      run_in_userns(cfg, [&] { Store(cfg).prepare_for_write(); });
    } catch (const Error& e) {
      log::warn("removing staging leftovers: {}", e.what());
      ok = false;
    }
    if (!ok)
      for (auto& p : problems)
        if (p.text.rfind("staging leftover", 0) == 0) p.repair = [] { return false; };
  }

  // 2b. Store contents no image references: a load or pull that failed or
  // was killed after committing a blob, interrupted downloads, temporary
  // files. Skipped while a loader holds gc.lock (its blobs are in use).
  {
    bool busy = false;
    std::vector<Store::Leftover> left = store.unreferenced(&busy);
    if (busy) log::info("system check: a load, pull or commit is running: unreferenced blobs not checked");
    // One garbage collection (in den's user namespace: layer files belong to
    // subordinate ids) repairs them all.
    auto gc_done = std::make_shared<std::optional<bool>>();
    auto gc = [&cfg, gc_done] {
      if (!*gc_done) {
        try {
          run_in_userns(cfg, [&cfg] {
            if (!Store(cfg).garbage_collect())
              throw Error("a load, pull or commit started meanwhile: run the check again when it is done");
          });
          *gc_done = true;
        } catch (const Error& e) {
          log::warn("removing unreferenced blobs: {}", e.what());
          *gc_done = false;
        }
      }
      return **gc_done;
    };
    for (const auto& l : left)
      problems.push_back({fmt::format("{} {} ({})", l.what, l.path, human_size(static_cast<double>(l.bytes))), gc});
  }

  // 3. Helper processes of this store that belong to no running container.
  // Everything den starts for a container (slirp4netns, pasta and its
  // watcher, fuse-overlayfs, exec and health-check helpers, den-netns and its
  // slirp4netns) descends from the container's monitor, which is a child
  // subreaper, or from the rootless network namespace's holder: a process
  // whose parent chain reaches the monitor of a running container, or that
  // holder, is never reported, whatever its arguments look like.
  if (!quick) {
    std::map<std::string, std::string> sockets = unix_sockets();
    uid_t me = ::getuid();
    std::vector<pid_t> pids;
    std::map<pid_t, pid_t> parent;
    for (pid_t p : all_pids()) {
      if (p == ::getpid() || owner_of(p) != me) continue;
      pids.push_back(p);
      parent[p] = ppid_of(p);
    }
    pid_t holder = rootless_netns_pid(cfg);
    // The chain of p (itself first, then its parents, ...) reaches one of `set`.
    auto chain_reaches = [&](pid_t p, const auto& set) {
      for (int depth = 0; depth < 64 && p > 1; depth++) {
        if (set.count(p)) return true;
        auto it = parent.find(p);
        p = it != parent.end() ? it->second : ppid_of(p);
      }
      return false;
    };
    std::set<pid_t> served;
    for (const auto& [mp, cid] : monitors) served.insert(mp);
    if (holder > 0) served.insert(holder);
    std::set<pid_t> our_monitors;
    for (pid_t p : pids) {
      if (comm_of(p) != "den-monitor") continue;
      if (!process_uses(p, {root, runroot}, sockets)) continue;
      our_monitors.insert(p);
    }
    for (pid_t p : our_monitors) {
      // A live container's monitor, or a process forked by one (health
      // check runner, exec helper): not stray.
      if (chain_reaches(p, served) || process_age_seconds(p) < 3) continue;
      uint64_t start = process_start_time(p);
      problems.push_back({fmt::format("stray den-monitor process {} (belongs to no running container)", p),
                          [p, start] { return kill_if_same(p, start); }});
    }
    for (pid_t p : pids) {
      if (our_monitors.count(p)) continue;
      std::vector<std::string> argv = cmdline_of(p);
      if (argv.empty()) continue;
      std::string prog = basename_of(argv[0]);
      std::string comm = comm_of(p);
      bool helper = prog == "fuse-overlayfs" || prog == "slirp4netns" || prog.rfind("pasta", 0) == 0 ||
                    comm == "den-netwatch";
      if (!helper) continue;
      if (chain_reaches(p, served)) continue;  // serves a running container
      std::string all = join(argv, " ");
      // This store's: started under one of its stray monitors, or naming its
      // paths (fuse-overlayfs' layers, slirp4netns' API socket, pasta's pid
      // file under RUNROOT/c/<id>/).
      bool ours = chain_reaches(p, our_monitors) || all.find(root + "/") != std::string::npos ||
                  all.find(runroot + "/") != std::string::npos;
      if (!ours || process_age_seconds(p) < 3) continue;
      std::string what = comm == "den-netwatch" ? "den-netwatch" : prog;
      std::string whose = "its container is not running";
      if (prog == "fuse-overlayfs") {
        std::string key = root + "/containers/";
        auto at = all.find(key);
        if (at != std::string::npos) {
          std::string cid = all.substr(at + key.size(), 64);
          if (live_ids.count(cid)) continue;
          // cp, diff, commit and export of a stopped container mount it
          // under the container's lock.
          if (cid.size() == 64 && is_dir(cs.dir(cid)) && !FileLock::try_acquire(cs.dir(cid) + "/lock")) continue;
          whose = "for container " + cid.substr(0, 12) + ", which is not running";
        }
      }
      uint64_t start = process_start_time(p);
      problems.push_back({fmt::format("stray {} process {} ({})", what, p, whose),
                          [p, start] { return kill_if_same(p, start); }});
    }
  }

  // 4. Mounts of store paths in the host's mount namespace.
  if (auto mi = read_file_if_exists("/proc/self/mountinfo")) {
    for (const auto& line : split(*mi, '\n')) {
      std::vector<std::string> f = fields_of(line);
      if (f.size() < 5) continue;
      std::string mp = f[4];
      bool hit = mp == root || mp.rfind(root + "/", 0) == 0 || line.find(root + "/") != std::string::npos;
      if (!hit) continue;
      std::string fstype;
      for (size_t i = 0; i + 1 < f.size(); i++)
        if (f[i] == "-") fstype = f[i + 1];
      problems.push_back({fmt::format("mount of a store path on the host: {} ({}); unmount it (fusermount -u or "
                                      "umount as root)",
                                      mp, fstype),
                          nullptr});
    }
  }

  if (problems.empty()) {
    out("OK\n");
    return 0;
  }
  std::string text;
  bool all_fixed = true;
  for (auto& p : problems) {
    if (repair && p.repair) {
      bool ok = false;
      try {
        ok = p.repair();
      } catch (const Error& e) {
        log::warn("{}: {}", p.text, e.what());
      }
      text += p.text + (ok ? ": repaired" : ": NOT repaired") + "\n";
      all_fixed = all_fixed && ok;
    } else {
      text += p.text + "\n";
      all_fixed = false;
    }
  }
  out(text);
  return all_fixed ? 0 : 1;
}

}  // namespace

void register_container_fs_commands(std::vector<Command>& t) {
  t.push_back({{{"top"}, {"container", "top"}},
               "CONTAINER [ps OPTIONS]",
               "Display the running processes of a container",
               "den top web\nden top web aux\nden top web pid user args %CPU",
               {},
               true, 1, -1, cmd_top});
  t.push_back({{{"port"}, {"container", "port"}},
               "CONTAINER [PRIVATE_PORT[/PROTO]]",
               "List port mappings or a specific mapping for the container",
               "den port web\nden port web 80/tcp",
               {},
               false, 1, 2, cmd_port});
  t.push_back({{{"diff"}, {"container", "diff"}},
               "CONTAINER",
               "Inspect changes to files or directories on a container's filesystem",
               "den diff web",
               {},
               false, 1, 1, cmd_diff});
  t.push_back({{{"export"}, {"container", "export"}},
               "[OPTIONS] CONTAINER",
               "Export a container's filesystem as a tar archive",
               "den export web > web.tar\nden export -o web.tar web",
               {{"output", 'o', OptKind::Value, "string", "Write to a file, instead of STDOUT", ""}},
               false, 1, 1, cmd_export});
  t.push_back({{{"commit"}, {"container", "commit"}},
               "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
               "Create a new image from a container's changes",
               "den commit web web:v2\nden commit -c 'CMD [\"httpd\", \"-f\"]' -m 'add config' web",
               {{"author", 'a', OptKind::Value, "string", "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")", ""},
                {"change", 'c', OptKind::List, "list", "Apply Dockerfile instruction to the created image", ""},
                {"message", 'm', OptKind::Value, "string", "Commit message", ""},
                {"pause", 'p', OptKind::Bool, "", "Pause container during commit (accepted; den does not pause yet)",
                 "true"}},
               false, 1, 2, cmd_commit});
  t.push_back({{{"system", "check"}},
               "[OPTIONS]",
               "Check the store for leftovers and inconsistencies",
               "den system check\nden system check --repair\nden system check --host",
               {{"host", 0, OptKind::Bool, "",
                 "Check the host setup for rootless containers instead (ids, helpers, devices, cgroups, sysctls)", ""},
                {"quick", 0, OptKind::Bool, "", "Skip the scan of processes", ""},
                {"repair", 0, OptKind::Bool, "", "Fix what can be fixed (states, names, staging leftovers, unreferenced blobs, stray processes)",
                 ""}},
               false, 0, 0, cmd_system_check});
}

}  // namespace den::cli
