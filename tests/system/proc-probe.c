/* proc-probe: what a hostile process in a container can reach through /proc
 * while den joins the container (den exec, health checks). Scans every
 * /proc/PID but its own until the file STOPFILE exists, then prints one line
 * of counts:
 *   den=N     processes seen named "den" (den's exec helper before its exec:
 *             shows that the race was run at all)
 *   env=N     /proc/PID/environ or cmdline holding MARKER (the caller's env)
 *   fd=N      /proc/PID/fd of a process still named "den" listed
 *   exe=N     /proc/PID/exe of a process still named "den" opened
 *   hostproc=N descriptors reached through /proc/PID/fd/N that are a procfs
 *             other than the container's own /proc
 *   ptrace=N  /proc/PID/mem of a process still named "den" opened (the
 *             kernel's ptrace attach check, without attaching: a tracer
 *             that never waits would hold up whatever it caught)
 *   scans=N   passes over /proc
 * Usage: proc-probe STOPFILE MARKER */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

static long n_den, n_env, n_fd, n_exe, n_hostproc, n_ptrace, n_scans;
static dev_t own_proc_dev;

static int read_small(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    return (int)n;
}

static int named_den(const char *pid) {
    char path[320], comm[64];
    snprintf(path, sizeof path, "/proc/%s/comm", pid);
    if (read_small(path, comm, sizeof comm) < 0) return 0;
    return strcmp(comm, "den\n") == 0;
}

static int holds(const char *path, const char *marker) {
    static char buf[1 << 16];
    int n = read_small(path, buf, sizeof buf);
    if (n <= 0) return 0;
    for (int i = 0; i < n; i++)
        if (!buf[i]) buf[i] = '\n';
    return strstr(buf, marker) != NULL;
}

static void probe(const char *pid, const char *marker) {
    char path[320];
    int den = named_den(pid);
    if (den) n_den++;
    snprintf(path, sizeof path, "/proc/%s/environ", pid);
    if (holds(path, marker)) n_env++;
    snprintf(path, sizeof path, "/proc/%s/cmdline", pid);
    if (holds(path, marker)) n_env++;
    snprintf(path, sizeof path, "/proc/%s/fd", pid);
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char fdpath[600];
            snprintf(fdpath, sizeof fdpath, "/proc/%s/fd/%s", pid, e->d_name);
            int fd = open(fdpath, O_PATH | O_CLOEXEC);
            if (fd < 0) continue;
            struct statfs sfs;
            struct stat st;
            if (fstatfs(fd, &sfs) == 0 && sfs.f_type == PROC_SUPER_MAGIC && fstat(fd, &st) == 0 &&
                st.st_dev != own_proc_dev)
                n_hostproc++;
            close(fd);
        }
        closedir(d);
        if (den && named_den(pid)) n_fd++;
    }
    snprintf(path, sizeof path, "/proc/%s/exe", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        if (den && named_den(pid)) n_exe++;
    }
    if (den) {
        snprintf(path, sizeof path, "/proc/%s/mem", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            if (named_den(pid)) n_ptrace++;
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: proc-probe STOPFILE MARKER\n");
        return 2;
    }
    struct stat st;
    if (stat("/proc/self", &st) != 0) return 1;
    own_proc_dev = st.st_dev;
    char self[32];
    snprintf(self, sizeof self, "%d", getpid());
    while (access(argv[1], F_OK) != 0) {
        DIR *d = opendir("/proc");
        if (!d) return 1;
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && strcmp(e->d_name, self) != 0) probe(e->d_name, argv[2]);
        closedir(d);
        n_scans++;
    }
    printf("den=%ld env=%ld fd=%ld exe=%ld hostproc=%ld ptrace=%ld scans=%ld\n", n_den, n_env, n_fd, n_exe,
           n_hostproc, n_ptrace, n_scans);
    return 0;
}
