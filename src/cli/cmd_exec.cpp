// exec and attach.
//
// `den exec` involves no monitor: den itself starts the process in the running
// container's namespaces (exec_in_container: setns on /proc/PID/ns/*, a fork
// into its PID namespace, the container's process settings) and relays stdio
// directly. Without -t the process gets pipes for stdout and stderr (and
// stdin with -i, else /dev/null) that den relays, never den's own
// descriptors, and den forwards the signals it gets. With -t
// den allocates a pty, whose slave becomes the process's controlling terminal,
// puts its own terminal in raw mode and relays both ways, passing on window
// size changes.
//
// `den attach` connects to the container monitor's unix socket
// (RUNROOT/c/<id>/attach) and speaks its frame protocol (den/monitor.h).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "cli.h"
#include "den/cgroup.h"
#include "den/container.h"
#include "den/error.h"
#include "den/events.h"
#include "den/fs.h"
#include "den/log.h"
#include "den/monitor.h"
#include "den/runtime.h"
#include "den/strings.h"
#include "den/timefmt.h"

namespace den::cli {

// ---- environment (docker's -e / --env-file rules) ----------------------------

void add_env(std::vector<std::string>& env, const std::string& kv) {
  auto eq = kv.find('=');
  std::string key = kv.substr(0, eq);
  std::string entry = kv;
  if (eq == std::string::npos) {
    const char* v = std::getenv(key.c_str());
    if (!v) return;  // docker: -e VAR without value takes the host's, or nothing
    entry = key + "=" + v;
  }
  if (key.empty()) throw Error(fmt::format("invalid environment variable \"{}\"", kv), Errc::Invalid);
  for (auto& e : env)
    if (e.compare(0, key.size() + 1, key + "=") == 0) {
      e = entry;
      return;
    }
  env.push_back(entry);
}

std::vector<std::string> read_env_file(const std::string& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (Error& e) {
    throw e.context("--env-file");
  }
  std::vector<std::string> out;
  int lineno = 0;
  for (const auto& raw : split(text, '\n')) {
    lineno++;
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    std::string key = line.substr(0, line.find('='));
    if (key.empty() || key.find_first_of(" \t") != std::string::npos)
      throw Error(fmt::format("invalid line {} in env file {}: \"{}\" (expected KEY=VALUE, and no spaces in KEY)",
                              lineno, path, line),
                  Errc::Invalid);
    out.push_back(line);
  }
  return out;
}

namespace {

// ---- terminals -------------------------------------------------------------------

struct RawTerminal {
  bool active = false;
  struct termios saved {};
  void enable() {
    if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved) != 0) return;
    struct termios raw = saved;
    ::cfmakeraw(&raw);
    if (::tcsetattr(STDIN_FILENO, TCSADRAIN, &raw) == 0) active = true;
  }
  void restore() {
    if (active) ::tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
    active = false;
  }
  ~RawTerminal() { restore(); }
};

// den's own window size (from stdin, else stdout); false when neither is a tty.
bool own_window_size(struct winsize* ws) {
  for (int fd : {STDIN_FILENO, STDOUT_FILENO})
    if (::ioctl(fd, TIOCGWINSZ, ws) == 0 && ws->ws_row > 0) return true;
  return false;
}

// Blocks the signals den relays and reads them from a signalfd; undone at the
// end of the scope.
class SignalRelay {
 public:
  SignalRelay() {
    sigemptyset(&mask_);
    for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&mask_, s);
    ::sigprocmask(SIG_BLOCK, &mask_, &old_);
    fd_ = ::signalfd(-1, &mask_, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd_ < 0) throw sys_error("signalfd");
  }
  ~SignalRelay() {
    ::close(fd_);
    ::sigprocmask(SIG_SETMASK, &old_, nullptr);
  }
  int fd() const { return fd_; }
  // Next pending signal, 0 when none.
  int next() {
    struct signalfd_siginfo si;
    if (::read(fd_, &si, sizeof si) != sizeof si) return 0;
    return static_cast<int>(si.ssi_signo);
  }

 private:
  sigset_t mask_, old_;
  int fd_ = -1;
};

// ---- detach keys -----------------------------------------------------------------

// docker's --detach-keys: "ctrl-p,ctrl-q", "a,ctrl-x", ... ("" = the default).
std::string parse_detach_keys(const std::string& spec) {
  if (spec.empty()) return "\x10\x11";
  std::string keys;
  for (const auto& raw : split(spec, ',')) {
    std::string k = to_lower(trim(raw));
    if (k.size() == 1) {
      keys += raw == k ? k : trim(raw);
      continue;
    }
    if (k.rfind("ctrl-", 0) == 0 && k.size() == 6) {
      char c = k[5];
      if (c >= 'a' && c <= 'z') {
        keys += static_cast<char>(c - 'a' + 1);
        continue;
      }
      const char* specials = "@[\\]^_";
      if (const char* p = std::strchr(specials, c); p && c) {
        keys += static_cast<char>(p - specials == 0 ? 0 : 27 + (p - specials - 1));
        continue;
      }
    }
    throw Error(fmt::format("invalid --detach-keys \"{}\": use a comma-separated list of letters or ctrl-<key> "
                            "(e.g. ctrl-p,ctrl-q)",
                            spec),
                Errc::Invalid);
  }
  return keys;
}

// Matches the detach sequence in the input stream. Bytes of a partial match
// are held back and released when the sequence breaks.
class DetachMatcher {
 public:
  explicit DetachMatcher(std::string keys) : keys_(std::move(keys)) {}
  // Appends to `out` what should be sent on; true when the sequence completed.
  bool feed(std::string_view in, std::string* out) {
    for (char c : in) {
      if (!keys_.empty() && c == keys_[held_.size()]) {
        held_ += c;
        if (held_.size() == keys_.size()) return true;
        continue;
      }
      if (!held_.empty()) {
        *out += held_;
        held_.clear();
        if (c == keys_[0]) {
          held_ += c;
          if (held_.size() == keys_.size()) return true;
          continue;
        }
      }
      *out += c;
    }
    return false;
  }

 private:
  std::string keys_;
  std::string held_;
};

// ---- exec ------------------------------------------------------------------------

int wait_status_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// The exec'd process's end, seen through a pidfd (polled beside the
// streams): reap() once it is readable; then, the output is drained for a
// moment (a background process may hold the streams open) before giving up.
struct ExitWatch {
  explicit ExitWatch(pid_t p) : pid(p), pfd(static_cast<int>(::syscall(SYS_pidfd_open, p, 0))) {}
  ~ExitWatch() {
    if (pfd >= 0) ::close(pfd);
  }
  ExitWatch(const ExitWatch&) = delete;
  ExitWatch& operator=(const ExitWatch&) = delete;
  void reap() {
    int st = 0;
    if (!exited && ::waitpid(pid, &st, WNOHANG) == pid) {
      status = st;
      exited = true;
      exit_seen = now_nanos();
      if (pfd >= 0) ::close(pfd);
      pfd = -1;
    }
  }
  // poll's timeout: none while the pidfd tells, a short drain after the exit.
  int poll_timeout() const { return exited ? 100 : (pfd >= 0 ? -1 : 50); }
  // After a poll that returned r: reaps when due; true when the relay ends.
  bool done_after(int r, short pfd_revents) {
    if (pfd < 0 || (pfd_revents & POLLIN)) reap();
    return exited && (r == 0 || now_nanos() - exit_seen > 2000000000LL);
  }
  // The exit code, waiting for the process if it was not reaped yet.
  int code() {
    if (!exited) {
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    return wait_status_code(status);
  }
  pid_t pid;
  int pfd;
  bool exited = false;
  int status = 0;
  int64_t exit_seen = 0;
};

// Relays between den's stdio and the pty master until the process exits.
int relay_pty(pid_t pid, int master, bool send_stdin, SignalRelay& sigs) {
  ExitWatch ew(pid);
  bool stdin_open = send_stdin;
  bool master_open = true;
  char buf[65536];
  while (master_open) {
    struct pollfd p[4] = {{sigs.fd(), POLLIN, 0},
                          {master, POLLIN, 0},
                          {stdin_open ? STDIN_FILENO : -1, POLLIN, 0},
                          {ew.pfd, POLLIN, 0}};
    // After the exit, the slave may stay open in a background process: drain
    // what is there, briefly.
    int timeout = ew.poll_timeout();
    int r = ::poll(p, 4, timeout);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    while (int s = sigs.next()) {
      if (s == SIGWINCH) {
        struct winsize ws {};
        if (own_window_size(&ws)) ::ioctl(master, TIOCSWINSZ, &ws);
      } else if (!ew.exited) {
        ::kill(pid, s);
      }
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n > 0) {
        write_all(STDOUT_FILENO, std::string_view(buf, static_cast<size_t>(n)), "write to stdout");
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        master_open = false;  // EIO: every slave descriptor is closed
      }
    }
    if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n > 0) {
        try {
          write_all(master, std::string_view(buf, static_cast<size_t>(n)), "write to the terminal");
        } catch (const Error&) {
        }
      } else if (n == 0 || errno != EINTR) {
        stdin_open = false;
        // End of input: the terminal's EOF character, as script(1) does.
        struct termios t {};
        if (::tcgetattr(master, &t) == 0 && (t.c_lflag & ICANON)) {
          char eof = static_cast<char>(t.c_cc[VEOF]);
          ssize_t w = ::write(master, &eof, 1);
          (void)w;
        }
      }
    }
    if (ew.done_after(r, p[3].revents)) break;
  }
  return ew.code();
}

// Relays between den's stdio and the process's pipes until it exits and its
// output has been read. Without -t the process gets pipes, never den's own
// descriptors: a host terminal (or file) passed in would stay open in the
// container, where a background process could read what the user types
// next at the host's prompt. `in_w` is -1 without -i.
//
// The data moves with splice(2) where the kernel can (one side is always a
// pipe here): no copy through den, so relayed output costs about what
// handing over den's own descriptors did. A terminal, an O_APPEND file and
// the like refuse splice (EINVAL): those go through read and write.
int relay_pipes(pid_t pid, int in_w, int out_r, int err_r, SignalRelay& sigs) {
  constexpr size_t kChunk = 1 << 20;
  ExitWatch ew(pid);
  bool stdin_open = in_w >= 0;
  bool in_splice = true;      // stdin -> in_w by splice until refused
  bool in_full = false;       // in_w had no room: wait for POLLOUT
  std::string pending;  // read from our stdin, not yet taken by the process
  if (in_w >= 0) ::fcntl(in_w, F_SETFL, ::fcntl(in_w, F_GETFL) | O_NONBLOCK);
  int outs[2] = {out_r, err_r};
  const int dests[2] = {STDOUT_FILENO, STDERR_FILENO};
  bool dest_ok[2] = {true, true};
  bool out_splice[2] = {true, true};
  char buf[65536];
  auto close_stdin = [&] {
    if (in_w >= 0) ::close(in_w);
    in_w = -1;
    stdin_open = false;
    pending.clear();
  };
  while (outs[0] >= 0 || outs[1] >= 0 || !ew.exited) {
    bool want_in = stdin_open && pending.empty() && !in_full;
    bool want_out = stdin_open && (!pending.empty() || in_full);
    struct pollfd p[6] = {{sigs.fd(), POLLIN, 0},
                          {outs[0], POLLIN, 0},
                          {outs[1], POLLIN, 0},
                          {want_in ? STDIN_FILENO : -1, POLLIN, 0},
                          {want_out ? in_w : -1, POLLOUT, 0},
                          {ew.pfd, POLLIN, 0}};
    // After the exit, the pipes may stay open in a background process:
    // drain what is there, briefly (as with a terminal).
    int timeout = ew.poll_timeout();
    int r = ::poll(p, 6, timeout);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    while (int s = sigs.next())
      if (s != SIGWINCH && !ew.exited) ::kill(pid, s);
    for (int i = 0; i < 2; i++) {
      if (outs[i] < 0 || !(p[1 + i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (dest_ok[i] && out_splice[i]) {
        ssize_t n = ::splice(outs[i], nullptr, dests[i], nullptr, kChunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) continue;
        if (n == 0) {
          ::close(outs[i]);
          outs[i] = -1;
          continue;
        }
        if (errno == EINTR || errno == EAGAIN) continue;
        if (errno == EINVAL) out_splice[i] = false;  // read and write below
        else dest_ok[i] = false;                     // our side is gone
      }
      ssize_t n = ::read(outs[i], buf, sizeof buf);
      if (n > 0) {
        if (!dest_ok[i]) continue;  // read on, so that the process does not block
        try {
          write_all(dests[i], std::string_view(buf, static_cast<size_t>(n)), "write");
        } catch (const Error&) {
          dest_ok[i] = false;
        }
      } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        ::close(outs[i]);
        outs[i] = -1;
      }
    }
    if (want_out && (p[4].revents & (POLLOUT | POLLERR | POLLHUP))) {
      in_full = false;
      if (!pending.empty()) {
        ssize_t n = ::write(in_w, pending.data(), pending.size());
        if (n > 0) pending.erase(0, static_cast<size_t>(n));
        else if (n < 0 && errno != EINTR && errno != EAGAIN) close_stdin();  // the process closed its stdin
      }
    }
    if (want_in && (p[3].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = -1;
      if (in_splice) {
        n = ::splice(STDIN_FILENO, nullptr, in_w, nullptr, kChunk, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n == 0) close_stdin();  // end of input: EOF for the process
        else if (n < 0 && errno == EAGAIN) in_full = true;
        else if (n < 0 && errno == EINVAL) in_splice = false;
        else if (n < 0 && errno == EPIPE) close_stdin();
      }
      if (!in_splice && stdin_open) {
        n = ::read(STDIN_FILENO, buf, sizeof buf);
        if (n > 0) pending.assign(buf, static_cast<size_t>(n));
        else if (n == 0 || (errno != EINTR && errno != EAGAIN)) close_stdin();
      }
    }
    if (ew.done_after(r, p[5].revents)) break;
  }
  for (int fd : outs)
    if (fd >= 0) ::close(fd);
  if (in_w >= 0) ::close(in_w);
  return ew.code();
}

std::vector<Option> exec_options() {
  return {
      {"detach", 'd', OptKind::Bool, "", "Detached mode: run command in the background", ""},
      {"detach-keys", 0, OptKind::Value, "string", "Override the key sequence for detaching a container", "", true},
      {"env", 'e', OptKind::List, "list", "Set environment variables", ""},
      {"env-file", 0, OptKind::List, "list", "Read in a file of environment variables", ""},
      {"interactive", 'i', OptKind::Bool, "", "Keep STDIN open even if not attached", ""},
      {"privileged", 0, OptKind::Bool, "", "Give extended privileges to the command", ""},
      {"tty", 't', OptKind::Bool, "", "Allocate a pseudo-TTY", ""},
      {"user", 'u', OptKind::Value, "string", "Username or UID (format: <name|uid>[:<group|gid>])", ""},
      {"workdir", 'w', OptKind::Value, "string", "Working directory inside the container", ""},
  };
}

int cmd_exec(Context& ctx, const Args& a) {
  log::Phase phase("exec");
  ContainerStore cs(ctx.store());
  const std::string& name = a.positional[0];
  std::string id = cs.resolve(name);
  ContainerConfig c = cs.config(id);
  ContainerState st = cs.state(id);
  if (st.status == ContainerStatus::Paused)
    throw Error(fmt::format("container {} is paused, unpause the container before exec", name), Errc::Invalid);
  if (st.status != ContainerStatus::Running || st.pid <= 0)
    throw Error(fmt::format("container {} is not running", name), Errc::Invalid);

  bool tty = a.flag("tty");
  bool interactive = a.flag("interactive");
  bool detach = a.flag("detach");

  // The container's process settings, as its plan has them.
  RunPlan plan = build_plan(ctx.config(), c, Json::object(), {}, cs.dir(id), "");
  plan.argv.assign(a.positional.begin() + 1, a.positional.end());
  plan.env = c.env;
  for (const auto& f : a.list("env-file"))
    for (const auto& kv : read_env_file(f)) add_env(plan.env, kv);
  for (const auto& kv : a.list("env")) add_env(plan.env, kv);
  if (tty && std::none_of(plan.env.begin(), plan.env.end(), [](const std::string& e) { return e.rfind("TERM=", 0) == 0; }))
    plan.env.push_back("TERM=xterm");
  if (a.has("user")) plan.user = a.value("user");
  if (a.has("workdir")) {
    std::string w = a.value("workdir");
    if (w.empty() || w[0] != '/')
      throw Error(fmt::format("the working directory \"{}\" is invalid: it must be an absolute path", w),
                  Errc::Invalid);
    plan.cwd = w;
  }
  if (a.flag("privileged")) plan.capabilities = ~uint64_t{0};
  plan.tty = tty;

  ChildStdio io;
  UniqueFd devnull = open_file("/dev/null", O_RDWR);
  UniqueFd master, console, console_child;
  UniqueFd in_r, in_w, out_r, out_w, err_r, err_w;  // without -t: the process's pipes
  if (detach) {
    io.in = io.out = io.err = devnull.get();
    plan.tty = false;  // nobody would read the terminal
  } else if (tty) {
    // The process opens its terminal in the container's /dev/pts and sends
    // us the master side.
    int sv[2];
    console_socketpair(sv);
    console = UniqueFd(sv[0]);
    console_child = UniqueFd(sv[1]);
    io.console_socket = console_child.get();
  } else {
    auto make_pipe = [](UniqueFd& r, UniqueFd& w) {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC) != 0) throw sys_error("pipe");
      r = UniqueFd(fds[0]);
      w = UniqueFd(fds[1]);
      // Fewer round trips for bulk data (best effort: capped by
      // fs/pipe-max-size and the user's pipe quota).
      ::fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
    };
    if (interactive) make_pipe(in_r, in_w);
    make_pipe(out_r, out_w);
    make_pipe(err_r, err_w);
    io.in = interactive ? in_r.get() : devnull.get();
    io.out = out_w.get();
    io.err = err_w.get();
  }

  // Signals are blocked (and read from a signalfd) from before the process
  // exists, so none is lost; the process itself starts with a clean mask.
  SignalRelay sigs;
  SpawnError serr;
  pid_t pid = exec_in_container(plan, st.pid, st.pid_start, io, &serr);
  console_child.reset();
  in_r.reset();
  out_w.reset();
  err_w.reset();
  if (pid < 0) throw Error(serr.message()).with_exit_code(serr.exit_code);
  // Into the container's cgroup, so that its limits and stats count it (as in
  // docker). Best effort, right after the exec: from a login session outside
  // the user's delegated subtree the kernel refuses the move.
  if (cgroup_exists(st.cgroup)) {
    try {
      cgroup_add_process(st.cgroup, pid);
    } catch (const Error& e) {
      log::debug("exec: not moved into the container's cgroup: {}", e.what());
    }
  }
  if (plan.tty) {
    master = receive_console(console.get());
    struct winsize ws {};
    if (own_window_size(&ws)) ::ioctl(master.get(), TIOCSWINSZ, &ws);
  }
  log::debug("exec: pid {} started at {:.2f} ms", pid, log::uptime_ms());
  std::string cmdline = join(plan.argv, " ");
  emit_container_event(ctx.config(), "exec_start: " + cmdline, id, c.name, c.image_name, c.labels);
  if (detach) return 0;  // it is reparented when den exits
  int code;
  if (!plan.tty) {
    code = relay_pipes(pid, in_w.release(), out_r.release(), err_r.release(), sigs);
  } else {
    RawTerminal raw;
    if (interactive) raw.enable();
    code = relay_pty(pid, master.get(), interactive, sigs);
    raw.restore();
  }
  emit_container_event(ctx.config(), "exec_die", id, c.name, c.image_name, c.labels, {{"exitCode", std::to_string(code)}});
  return code;
}

// ---- attach ----------------------------------------------------------------------

int connect_attach_socket(const std::string& path) {
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) throw sys_error("socket");
  struct sockaddr_un addr {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    throw Error(fmt::format("the attach socket path {} is too long", path), Errc::Invalid);
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  return s.release();
}

// Relays between den's stdio and the monitor. Returns the container's exit
// code, or -1 when the user detached.
int attach_client(int fd, bool tty, bool send_stdin, pid_t container_pid, bool sig_proxy, const std::string& keys,
                  SignalRelay& sigs, bool close_stdin_at_eof = false) {
  RawTerminal raw;
  if (tty && send_stdin) raw.enable();
  auto send_size = [&] {
    struct winsize ws {};
    if (tty && own_window_size(&ws)) write_frame(fd, Frame::Resize, fmt::format("{} {}", ws.ws_row, ws.ws_col));
  };
  send_size();
  DetachMatcher detach(keys);
  bool stdin_open = send_stdin;
  char buf[8192];
  for (;;) {
    struct pollfd p[3] = {{fd, POLLIN, 0}, {sigs.fd(), POLLIN, 0}, {stdin_open ? STDIN_FILENO : -1, POLLIN, 0}};
    if (::poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      return 125;
    }
    while (int s = sigs.next()) {
      if (s == SIGWINCH) send_size();
      else if (sig_proxy && !tty && container_pid > 0) ::kill(container_pid, s);
      else if (s == SIGINT || s == SIGTERM || s == SIGHUP) return 128 + s;  // leave, the container runs on
    }
    if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n > 0) {
        std::string data;
        if (tty) {
          if (detach.feed(std::string_view(buf, static_cast<size_t>(n)), &data)) {
            if (!data.empty()) write_frame(fd, Frame::Stdin, data);
            return -1;
          }
        } else {
          data.assign(buf, static_cast<size_t>(n));
        }
        if (!data.empty()) write_frame(fd, Frame::Stdin, data);
      } else if (n == 0 || errno != EINTR) {
        // `den run -i`: the end of our input is the end of the container's.
        // `den attach`, as docker for a container started without attached
        // stdin: the container's stdin stays open.
        stdin_open = false;
        if (close_stdin_at_eof) write_frame(fd, Frame::StdinEof, "");
      }
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      Frame t;
      std::string payload;
      if (!read_frame(fd, &t, &payload)) return -2;  // the monitor went away
      if (t == Frame::Stdout) write_all(STDOUT_FILENO, payload, "write to stdout");
      else if (t == Frame::Stderr) write_all(STDERR_FILENO, payload, "write to stderr");
      else if (t == Frame::Error) write_all(STDERR_FILENO, "Error: " + payload + "\n", "write to stderr");
      else if (t == Frame::Exit) return std::atoi(payload.c_str());
    }
  }
}

int cmd_attach(Context& ctx, const Args& a) {
  ContainerStore cs(ctx.store());
  const std::string& name = a.positional[0];
  std::string id = cs.resolve(name);
  ContainerConfig c = cs.config(id);
  ContainerState st = cs.state(id);
  if (st.status == ContainerStatus::Paused)
    throw Error(fmt::format("container {} is paused, unpause the container before attach", name), Errc::Invalid);
  if (st.status != ContainerStatus::Running)
    throw Error(fmt::format("container {} is not running: you cannot attach to a stopped container, start it first",
                            name),
                Errc::Invalid);
  std::string keys = parse_detach_keys(a.value("detach-keys"));
  std::string sig_proxy = a.value("sig-proxy", "true");
  if (sig_proxy != "true" && sig_proxy != "false")
    throw Error(fmt::format("invalid --sig-proxy \"{}\": use true or false", sig_proxy), Errc::Invalid);
  int fd = connect_attach_socket(cs.run_dir(id) + "/attach");
  if (fd < 0)
    throw Error(fmt::format("cannot attach to container {}: its monitor does not answer on {}", name,
                            cs.run_dir(id) + "/attach"));
  UniqueFd sock(fd);
  SignalRelay sigs;
  int code = attach_client(fd, c.tty, c.stdin_open && !a.flag("no-stdin"), st.pid, sig_proxy == "true", keys, sigs);
  if (code == -1) return 0;  // detached
  if (code == -2) {
    // The monitor closed without an exit frame: take the recorded exit.
    ContainerState end;
    wait_for_exit(cs, id, 5000, &end);
    return end.status == ContainerStatus::Exited ? end.exit_code : 125;
  }
  return code;
}

}  // namespace

void register_exec_commands(std::vector<Command>& t) {
  t.push_back({{{"exec"}, {"container", "exec"}},
               "[OPTIONS] CONTAINER COMMAND [ARG...]",
               "Execute a command in a running container",
               "den exec web ls /\nden exec -it web sh\nden exec -u app -w /tmp -e X=1 web env",
               exec_options(), true, 2, -1, cmd_exec});
  t.push_back({{{"attach"}, {"container", "attach"}},
               "[OPTIONS] CONTAINER",
               "Attach local standard input, output, and error streams to a running container",
               "den attach web\nden attach --no-stdin web",
               {{"detach-keys", 0, OptKind::Value, "string", "Override the key sequence for detaching a container",
                 "\"ctrl-p,ctrl-q\""},
                {"no-stdin", 0, OptKind::Bool, "", "Do not attach STDIN", ""},
                {"sig-proxy", 0, OptKind::Bool, "", "Proxy all received signals to the process", "true"}},
               false, 1, 1, cmd_attach});
}

int attach_session(int fd, bool tty, bool send_stdin, bool close_stdin_at_eof, pid_t container_pid, bool sig_proxy,
                   const std::string& detach_keys) {
  SignalRelay sigs;
  return attach_client(fd, tty, send_stdin, container_pid, sig_proxy, parse_detach_keys(detach_keys), sigs,
                       close_stdin_at_eof);
}

}  // namespace den::cli
