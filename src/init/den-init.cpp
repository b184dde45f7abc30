// den-init: the tiny init for `den run --init` (like tini or catatonit).
//
//   /run/den-init [--] CMD [ARG...]
//   /run/den-init --pause
//
// --pause is the process of a pod's infra container: it holds the pod's
// namespaces, reaps what is reparented to it and exits 0 on SIGTERM or
// SIGINT (or SIGHUP).
//
// Runs as PID 1 of the container: forks and execs CMD, forwards every
// catchable signal to it (to its process group when it leads one, as it does
// when it has no terminal to share), reaps every zombie that is reparented to
// it, and exits with CMD's exit code (128+N when CMD was killed by signal N).
// If CMD can't be executed: 127 when it is not found, 126 otherwise, with one
// line on stderr. Statically linked, so it stays small: plain libc, no C++
// runtime features beyond the language.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

// Signals that are not forwarded: those sent by the kernel about this
// process's own faults, SIGCHLD (ours to handle) and the ones that can't be
// caught anyway.
bool forwardable(int sig) {
  switch (sig) {
    case SIGKILL:
    case SIGSTOP:
    case SIGCHLD:
    case SIGSEGV:
    case SIGBUS:
    case SIGILL:
    case SIGFPE:
    case SIGABRT:
    case SIGTRAP:
    case SIGSYS:
    case SIGTTIN:
    case SIGTTOU:
      return false;
    default:
      return true;
  }
}

void say(const char* a, const char* b, const char* c) {
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "den-init: %s%s%s\n", a, b, c);
  if (n > 0) {
    ssize_t w = write(STDERR_FILENO, buf, static_cast<size_t>(n) < sizeof buf ? static_cast<size_t>(n) : sizeof buf - 1);
    (void)w;
  }
}

}  // namespace

// The infra container's process: sleeps until told to stop.
int pause_main() {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, nullptr);
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&all, &si);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) return 0;
    if (sig == SIGCHLD)
      while (waitpid(-1, nullptr, WNOHANG) > 0) {
      }
  }
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "--pause") == 0) return pause_main();
  int first = 1;
  if (first < argc && strcmp(argv[first], "--") == 0) first++;
  if (first >= argc) {
    say("usage: den-init [--] COMMAND [ARG...]", "", "");
    return 125;
  }
  if (getpid() != 1) {
    // Not PID 1 (--pid host): become the reaper of our descendants instead.
    prctl(PR_SET_CHILD_SUBREAPER, 1);
  }

  // Block every signal; the child gets the original mask back before exec.
  sigset_t all, orig;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &orig);

  // The exec status pipe: closed by a successful exec (CLOEXEC), else it
  // carries the errno.
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) != 0) {
    say("pipe: ", strerror(errno), "");
    return 125;
  }

  bool have_tty = isatty(STDIN_FILENO) != 0;
  pid_t child = fork();
  if (child < 0) {
    say("fork: ", strerror(errno), "");
    return 125;
  }
  if (child == 0) {
    close(ep[0]);
    // Own process group, so group-wide signals reach the whole job. With a
    // terminal, it becomes the terminal's foreground group.
    setpgid(0, 0);
    if (have_tty) {
      signal(SIGTTOU, SIG_IGN);
      tcsetpgrp(STDIN_FILENO, getpid());
    }
    for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &orig, nullptr);
    execvp(argv[first], argv + first);
    int e = errno;
    ssize_t w = write(ep[1], &e, sizeof e);
    (void)w;
    _exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
  }
  close(ep[1]);
  // Make sure the group exists before signals are forwarded to it.
  setpgid(child, child);
  int exec_errno = 0;
  ssize_t r;
  do {
    r = read(ep[0], &exec_errno, sizeof exec_errno);
  } while (r < 0 && errno == EINTR);
  close(ep[0]);
  if (r == static_cast<ssize_t>(sizeof exec_errno)) {
    if (exec_errno == ENOENT || exec_errno == ENOTDIR)
      say(argv[first], ": executable file not found in $PATH", "");
    else
      say(argv[first], ": ", strerror(exec_errno));
  }

  int exit_code = 0;
  bool child_done = false;
  struct timespec tick = {1, 0};
  for (;;) {
    // Reap everything that has exited.
    for (;;) {
      int st;
      pid_t w = waitpid(-1, &st, WNOHANG);
      if (w <= 0) break;
      if (w == child) {
        child_done = true;
        exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 125;
      }
    }
    if (child_done) break;
    siginfo_t si;
    int sig = sigtimedwait(&all, &si, &tick);
    if (sig < 0) continue;  // timeout or EINTR: reap again
    if (sig == SIGCHLD || !forwardable(sig)) continue;
    // Forward to the group the child leads (when it still does), else the child.
    if (kill(-child, sig) != 0) kill(child, sig);
  }
  // Like tini: exit as soon as the command is gone; as PID 1 our exit ends
  // every process left in the container's pid namespace.
  return exit_code;
}
