#!/usr/bin/env bats
# A container's processes and file system: --init (den-init), top, port,
# diff, export, commit; and `system check`.

load helpers

local_setup() {
    import_busybox bb >/dev/null
}

# wait_for_log NAME TEXT : waits (up to 10 s) until the container's log has TEXT.
wait_for_log() {
    local i
    for i in $(seq 100); do
        [[ $(den logs "$1" 2>&1) == *"$2"* ]] && return 0
        sleep 0.1
    done
    fail "container $1 never logged '$2'" "$(den logs "$1" 2>&1 | _indent)"
}

# ---- den-init ------------------------------------------------------------------

@test "init: exit codes of the command, 128+N when killed, 126/127 when it can't run" {
    run_den run --rm --network none --init bb sh -c 'exit 5'
    assert_failure 5
    run_den run --rm --network none --init bb sh -c 'kill -TERM $$'
    assert_failure 143
    run -127 --separate-stderr den run --rm --network none --init bb nosuchcmd
    assert_stderr_contains "nosuchcmd"
    run_den run --rm --network none --init bb /etc/passwd
    assert_failure 126
    run_den run --rm --network none --init bb sh -c 'cat /proc/1/cmdline | tr "\0" " "'
    assert_success
    assert_output "/run/den-init -- sh -c cat /proc/1/cmdline | tr \"\\0\" \" \" "
}

@test "init: forwards signals to the command and exits with its code" {
    den run -d --network none --init --name sig bb sh -c \
        'trap "echo got USR1" USR1; trap "echo got HUP" HUP; trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done' >/dev/null
    wait_for_log sig ready
    run_den kill -s USR1 sig
    assert_success
    wait_for_log sig "got USR1"
    run_den kill -s HUP sig
    assert_success
    wait_for_log sig "got HUP"
    run_den stop -t 10 sig
    assert_success
    run_den inspect -f '{{.State.ExitCode}}' sig
    assert_output 7
    wait_for_log sig "got TERM"
}

# ---- top -----------------------------------------------------------------------

@test "top: ps -ef columns restricted to the container's processes" {
    den run -d --network none --name web bb sh -c 'sleep 1001 & sleep 1002' >/dev/null
    sleep 0.5
    run_den top web
    assert_success
    assert_line_matches '^UID +PID +PPID +C +STIME +TTY +TIME +CMD$'
    assert_line_matches 'sleep 1001$'
    assert_line_matches 'sleep 1002$'
    assert_line_count 3
    run_den container top web aux
    assert_success
    assert_line_matches '^USER +PID '
    assert_line_count 3
    run_den top web -o pid,comm
    assert_success
    assert_line_count 3
    assert_line_matches '^ *[0-9]+ sleep$'
}

@test "top: podman-style descriptors show container pids and users" {
    den run -d --network none --name web bb sh -c 'su -s /bin/sh nobody -c "sleep 1001" & exec sleep 1002' >/dev/null
    sleep 0.5
    run_den top web pid user args
    assert_success
    assert_line_matches '^PID +USER +COMMAND$'
    assert_line_matches '^1 +root +sleep 1002$'
    assert_line_matches '^[0-9]+ +nobody +sleep 1001$'
}

@test "top: refuses a container that is not running" {
    den create --network none --name idle bb true >/dev/null
    run_den top idle
    assert_den_error "not running"
    run_den top nosuch
    assert_den_error "no such container"
}

# ---- port ------------------------------------------------------------------------

@test "port: nothing published yet" {
    den create --network none --name web bb true >/dev/null
    run_den port web
    assert_success
    assert_output ""
    run_den container port web 80
    assert_den_error "No public port '80/tcp' published for web"
    run_den port web 53/udp
    assert_den_error "No public port '53/udp' published for web"
    run_den port web 99999
    assert_den_error "invalid port"
}

# ---- diff ------------------------------------------------------------------------

@test "diff: added, changed and deleted paths, like docker" {
    den run --network none --name c1 --init bb sh -c \
        'touch /tmp/x; mkdir -p /new/dir; echo hi >/new/dir/f; rm /etc/group; rm -rf /usr/sbin; mkdir /usr/sbin; touch /usr/sbin/z; chmod 700 /root' >/dev/null
    run_den diff c1
    assert_success
    assert_output "$(printf '%s\n' 'C /etc' 'D /etc/group' 'A /new' 'A /new/dir' 'A /new/dir/f' 'C /root' \
        'C /tmp' 'A /tmp/x' 'C /usr' 'C /usr/sbin' 'A /usr/sbin/z')"
    # den's own mount points (/etc/hosts, /run/den-init, ...) are not changes.
    assert_output_not_contains hosts
    assert_output_not_contains den-init
    den create --network none --name fresh bb true >/dev/null
    run_den container diff fresh
    assert_success
    assert_output ""
}

@test "diff: files owned by other ids, in a running container" {
    den run -d --network none --name c2 bb sh -c \
        'mkdir /secret; touch /secret/s; chown -R 65534:65534 /secret; chmod 700 /secret; touch /ready; sleep 1000' >/dev/null
    for i in $(seq 50); do den diff c2 2>/dev/null | grep -q ready && break; sleep 0.1; done
    run_den diff c2
    assert_success
    assert_output "$(printf '%s\n' 'A /ready' 'A /secret' 'A /secret/s')"
}

# ---- export ------------------------------------------------------------------------

@test "export: the merged file system, owners and links kept; round trip with import" {
    den run --network none --name c3 bb sh -c \
        'echo hi >/f; ln /f /hl; ln -s /f /sl; touch /n; chown 65534:65534 /n; chmod 4755 /n; rm /etc/group' >/dev/null
    run_sh "\$DEN export c3 >'$WORK/c3.tar'"
    assert_success
    run tar -tvf "$WORK/c3.tar"
    [[ $status -eq 0 ]]
    assert_line_matches '^-rwsr-xr-x 65534/65534 +0 .* n$'
    assert_line_matches '^h.* hl link to f$'
    assert_line_matches '^l.* sl -> /f$'
    assert_line_matches ' bin/busybox$'
    assert_no_line_matches ' etc/group$'
    assert_no_line_matches ' \./$'
    run_den export -o "$WORK/c3b.tar" c3
    assert_success
    cmp "$WORK/c3.tar" "$WORK/c3b.tar"
    # Round trip: export | tar -x, re-tar, import, run.
    mkdir "$WORK/out"
    tar -C "$WORK/out" -xf "$WORK/c3.tar"
    [[ $(cat "$WORK/out/f") == hi ]]
    run_den import "$WORK/c3.tar" exported
    assert_success
    run_den run --rm --network none exported sh -c 'cat /f; stat -c "%h %u %a" /hl /n; readlink /sl; test -e /etc/group || echo nogroup'
    assert_success
    assert_output "$(printf '%s\n' hi '2 0 644' '1 65534 4755' /f nogroup)"
}

@test "export: refuses a terminal, unknown containers" {
    run_den export nosuch
    assert_den_error "no such container"
    if command -v script >/dev/null; then
        den create --network none --name c4 bb true >/dev/null
        run script -qec "$DEN export c4" /dev/null
        [[ $status -ne 0 ]] || fail "export to a terminal succeeded"
        [[ $output == *"cowardly refusing"* ]] || fail "unexpected output: $output"
    fi
}

# ---- commit ------------------------------------------------------------------------

@test "commit: a new image from the changes, with the container's settings and --change" {
    den run --network none --name c5 -e MYVAR=1 -w /work bb sh -c \
        'echo data >/added; rm /etc/group; rm -rf /usr/sbin; mkdir /usr/sbin; touch /usr/sbin/only' >/dev/null
    run_den commit -m "my message" -a "Jane <j@x>" -c 'ENV EXTRA=yes' -c 'LABEL l=v' c5 committed:v1
    assert_success
    assert_line_matches '^sha256:[0-9a-f]{64}$'
    id=$output
    run_den image inspect -f '{{.Id}}|{{.Comment}}|{{.Author}}|{{len .RootFS.Layers}}|{{.Config.WorkingDir}}|{{index .Config.Labels "l"}}' committed:v1
    assert_success
    assert_output "$id|my message|Jane <j@x>|2|/work|v"
    run_den image inspect -f '{{json .Config.Env}} {{json .Config.Cmd}}' committed:v1
    assert_output_contains '"MYVAR=1"'
    assert_output_contains '"EXTRA=yes"'
    assert_output_contains '["sh","-c",'
    # The new layer uses OCI whiteouts; the image runs with the changes.
    run_den run --rm --network none --entrypoint sh committed:v1 -c \
        'cat /added; test -e /etc/group || echo nogroup; ls /usr/sbin; echo $MYVAR $EXTRA; pwd'
    assert_success
    assert_output "$(printf '%s\n' data nogroup only '1 yes' /work)"
    # Saved and reloaded elsewhere, it is the same image.
    run_sh "\$DEN save committed:v1 | tar -xOf - \$(\$DEN save committed:v1 | tar -tf - | grep layer.tar | tail -1) | tar -tf -"
    assert_success
    assert_line_matches '^etc/\.wh\.group$'
    assert_line_matches '^usr/sbin/\.wh\.\.wh\.\.opq$'
    assert_no_line_matches 'hosts|den-init'
    assert_no_staging_leftovers
}

@test "commit: untagged image, owners kept, errors" {
    den run --network none --name c6 bb sh -c 'touch /o; chown 65534:65534 /o' >/dev/null
    run_den container commit c6
    assert_success
    id=$output
    run_den run --rm --network none "$id" stat -c '%u:%g' /o
    assert_success
    assert_output "65534:65534"
    run_den commit nosuch
    assert_den_error "no such container"
    run_den commit -c 'BOGUS x' c6
    assert_den_error "BOGUS"
}

# ---- system check --------------------------------------------------------------------

@test "system check: OK on a clean store, with a running container" {
    run_den system check
    assert_success
    assert_output OK
    den run -d --network none --name live bb sleep 1000 >/dev/null
    run_den system check
    assert_success
    assert_output OK
}

@test "system check: finds and repairs dead containers, staging leftovers, stray monitors" {
    den run -d --network none --name dead bb sleep 1000 >/dev/null
    den run -d --network none --name orphan bb sleep 1000 >/dev/null
    local dead_id orphan_id
    dead_id=$(den inspect -f '{{.Id}}' dead)
    orphan_id=$(den inspect -f '{{.Id}}' orphan)
    # "dead": the state says running, but its processes are gone.
    python3 - "$GRAPHROOT/containers/$dead_id/state.json" <<'PY'
import json, sys
p = sys.argv[1]; j = json.load(open(p)); j["pid"] = 999999; j["monitor_pid"] = 999998
open(p, "w").write(json.dumps(j))
PY
    # "orphan": the state says exited while its monitor still runs.
    python3 - "$GRAPHROOT/containers/$orphan_id/state.json" <<'PY'
import json, sys
p = sys.argv[1]; j = json.load(open(p)); j["status"] = "exited"; j["pid"] = 0
open(p, "w").write(json.dumps(j))
PY
    mkdir -p "$GRAPHROOT/tmp/leftover"
    touch "$GRAPHROOT/tmp/leftover.lock"
    sleep 3
    run_den system check
    assert_failure 1
    assert_line_matches "container dead .*state says running but its process 999999 is gone"
    assert_line_matches "staging leftover .*/tmp/leftover"
    assert_line_matches "stray den-monitor process"
    run_den system check --quick
    assert_failure 1
    assert_no_line_matches "den-monitor"
    run_den system check --repair
    assert_success
    assert_all_lines_match ": repaired$"
    run_den system check
    assert_success
    assert_output OK
    run_den inspect -f '{{.State.Status}}' dead
    assert_output exited
    assert_no_staging_leftovers
}
