#!/usr/bin/env bats
# The container boundary as a hostile container sees it: what a process in
# the container can reach of den and of the host while `den exec` and health
# checks join it (runc's CVE-2016-9962 pattern), the terminal of an exec
# without -t, and the writes to /proc, /sys and mounts that stay refused.

load helpers

# probeimg: busybox with /bin/proc-probe (tests/system/proc-probe.c).
local_setup() {
    command -v cc >/dev/null || skip "no C compiler for the probe"
    local tar=$BATS_FILE_TMPDIR/probe.tar d=$BATS_FILE_TMPDIR/probe
    if [[ ! -s $tar ]]; then
        rm -rf "$d"
        make_busybox_rootfs "$d"
        cc -static -O2 -o "$d/bin/proc-probe" "$BATS_TEST_DIRNAME/proc-probe.c"
        make_rootfs_tar "$tar.part" "$d"
        mv "$tar.part" "$tar"
    fi
    den import -c 'CMD ["/bin/sh"]' "$tar" probeimg >/dev/null
}

# probe_result NAME : stops the probe running as NAME's main process and
# prints its line of counts.
probe_result() {
    den exec "$1" touch /tmp/stop-probe >/dev/null
    den wait "$1" >/dev/null
    den logs "$1" | tail -n 1
}

# count KEY LINE : the number after KEY= in LINE.
count() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$2"; }

# assert_probe_clean LINE : no sighting of anything of den's or the host's.
assert_probe_clean() {
    local line=$1
    [[ $line == den=* ]] || fail "the probe printed no counts: $line"
    assert_equal "$(count env "$line")" 0 "sightings of the caller's environment"
    assert_equal "$(count fd "$line")" 0 "descriptor lists of den's helper"
    assert_equal "$(count exe "$line")" 0 "opens of den's binary through /proc/PID/exe"
    assert_equal "$(count hostproc "$line")" 0 "descriptors on the host's /proc"
    assert_equal "$(count ptrace "$line")" 0 "ptrace access to den's helper (/proc/PID/mem)"
}

@test "den exec: a process scanning /proc in the container reaches nothing of den's or the host's" {
    local marker=den-secret-$RANDOM$RANDOM
    den run -d --name bx --network none probeimg proc-probe /tmp/stop-probe "$marker" >/dev/null
    local i
    for i in $(seq 1 150); do
        DEN_PROBE_SECRET=$marker den exec bx true || fail "den exec failed in round $i"
    done
    # -i, -e and -u too: other paths through the helper.
    for i in $(seq 1 20); do
        echo x | DEN_PROBE_SECRET=$marker den exec -i -e A=b -u nobody bx cat >/dev/null ||
            fail "den exec -i failed in round $i"
    done
    local line
    line=$(probe_result bx)
    echo "# probe: $line" >&3
    assert_probe_clean "$line"
    # The race was run: the probe saw den's helper inside the container.
    (($(count den "$line") > 0)) || fail "the probe never saw den's exec helper (the race was not run): $line"
}

@test "health checks: the probe reaches nothing of the monitor's exec helper" {
    local marker=den-secret-$RANDOM$RANDOM
    DEN_PROBE_SECRET=$marker den run -d --name hx --network none --health-cmd true --health-interval 1s \
        probeimg proc-probe /tmp/stop-probe "$marker" >/dev/null
    sleep 6
    run_den inspect --format '{{.State.Health.Status}}' hx
    assert_success
    assert_output healthy
    local line
    line=$(probe_result hx)
    echo "# probe: $line" >&3
    assert_probe_clean "$line"
}

@test "den exec runs the command with the container's environment only" {
    den run -d --name ex --network none -e FROMRUN=1 probeimg sleep 1000 >/dev/null
    DEN_PROBE_SECRET=leak run_den exec ex env
    assert_success
    assert_output_contains "FROMRUN=1"
    assert_output_not_contains "DEN_PROBE_SECRET"
    # docker's -e VAR without a value takes the caller's: only when asked.
    DEN_PROBE_SECRET=asked run_den exec -e DEN_PROBE_SECRET ex env
    assert_success
    assert_output_contains "DEN_PROBE_SECRET=asked"
}

@test "den exec without -t: the process's stdio are pipes, never den's terminal" {
    den run -d --name tx --network none probeimg sleep 1000 >/dev/null
    # den's stdin, stdout and stderr are a terminal here.
    pty_run 24 80 "$DEN" exec tx sh -c 'for f in 0 1 2; do echo "fd$f=$(readlink /proc/$$/fd/$f)"; done' </dev/null
    assert_success
    assert_output_contains "fd0=/dev/null"
    [[ $output =~ fd1=pipe:\[ ]] || fail "stdout is not a pipe: $output"
    [[ $output =~ fd2=pipe:\[ ]] || fail "stderr is not a pipe: $output"
    # With -i, stdin is a pipe too.
    pty_run 24 80 "$DEN" exec -i tx sh -c 'readlink /proc/$$/fd/0' <<<'send \x04'
    assert_success
    [[ $output =~ pipe:\[ ]] || fail "stdin of exec -i is not a pipe: $output"
}

@test "den exec without -t: a background process cannot read what the user types next" {
    den run -d --name sx --network none probeimg sleep 1000 >/dev/null
    # As in the report: the exec returns, then a background process in the
    # container reads its stdout and stdin (the host terminal before the
    # fix) while the user types a password at the host's prompt.
    local script
    script="\"$DEN\" exec sx sh -c '(sleep 1; dd bs=1 count=20 <&1 >/tmp/stolen 2>/dev/null;"
    script+=" dd bs=1 count=20 <&0 >>/tmp/stolen 2>/dev/null) &'; echo exec-returned;"
    script+=' read -r line; echo "shell-got:$line"'
    pty_run 24 80 bash -c "$script" <<'STEPS'
expect exec-returned
sleep 3
send hunter2-password\r
expect shell-got:
STEPS
    assert_success
    assert_output_contains "shell-got:hunter2-password"
    sleep 1
    run_den exec sx sh -c 'cat /tmp/stolen 2>/dev/null; true'
    assert_success
    assert_output_not_contains "hunter2"
}

@test "den exec -t: the process's terminal is the container's own" {
    den run -d --name ptx --network none probeimg sleep 1000 >/dev/null
    pty_run 24 80 "$DEN" exec -t ptx sh -c 'readlink /proc/self/fd/0; tty' </dev/null
    assert_success
    assert_output_contains "/dev/pts/0"
}

@test "the container cannot write /proc/sys, /sys, sysrq-trigger, nor mount" {
    den run -d --name wx --network none probeimg sleep 1000 >/dev/null
    local what
    for what in 'echo 1 >/proc/sys/kernel/ctrl-alt-del' 'echo 1 >/proc/sys/vm/drop_caches' \
        'echo h >/proc/sysrq-trigger' 'echo 1 >/sys/kernel/profiling' 'echo add >/sys/class/net/lo/uevent' \
        'mount -t tmpfs none /mnt' 'mount -o remount,rw /proc/sys' 'mount -o remount,rw /sys' \
        'umount /proc/kcore' 'umount -l /proc/sys'; do
        run_den exec wx sh -c "$what 2>/dev/null && echo WROTE || echo refused"
        assert_success
        assert_output refused
    done
    # With every capability (exec --privileged), /proc/sys and sysrq-trigger
    # stay read-only: the host's are never the container's.
    for what in 'echo 1 >/proc/sys/kernel/ctrl-alt-del' 'echo h >/proc/sysrq-trigger'; do
        run_den exec --privileged wx sh -c "$what 2>/dev/null && echo WROTE || echo refused"
        assert_success
        assert_output refused
    done
}
