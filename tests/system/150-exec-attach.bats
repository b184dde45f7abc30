#!/usr/bin/env bats
# den exec and den attach; den run -it and den exec -it driven through a real
# pseudo terminal (python3's pty module): prompt, input, Ctrl-C, window size,
# exit codes.

load helpers

# A busybox image with a user "app" (uid 1000, also in group "extra" 2000).
local_setup() {
    local tar=$BATS_FILE_TMPDIR/bb-app.tar d=$BATS_FILE_TMPDIR/bb-app
    if [[ ! -s $tar ]]; then
        rm -rf "$d"
        make_busybox_rootfs "$d"
        mkdir -p "$d/home/app"
        printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'app:x:1000:1000:app:/home/app:/bin/sh' \
            'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$d/etc/passwd"
        printf '%s\n' 'root:x:0:' 'app:x:1000:' 'extra:x:2000:app' 'nobody:x:65534:' >"$d/etc/group"
        make_rootfs_tar "$tar.part" "$d"
        mv "$tar.part" "$tar"
    fi
    den import -c 'CMD ["/bin/sh"]' "$tar" bb >/dev/null
}

# start_sleeper NAME [RUN OPTIONS...] : a running container doing nothing.
start_sleeper() {
    local name=$1
    shift
    den run -d --network none --name "$name" "$@" bb sleep 1000 >/dev/null
}

# ---------------------------------------------------------------------------
# den exec

@test "den exec runs in the container's namespaces and returns the exit code" {
    start_sleeper ex --hostname exhost
    run_den exec ex sh -c 'echo hello; hostname; cat /proc/1/cmdline | tr "\0" " "; echo; exit 7'
    assert_failure 7
    assert_equal "${lines[0]}" "hello"
    assert_equal "${lines[1]}" "exhost" "hostname (UTS namespace)"
    assert_equal "${lines[2]}" "sleep 1000 " "pid 1 (PID namespace)"

    # Same mount namespace: a file written by one exec is seen by the next.
    run_den exec ex sh -c 'echo data >/tmp/f'
    assert_success
    run_den container exec ex cat /tmp/f
    assert_success
    assert_output data

    # Same user namespace: root inside.
    run_den exec ex id -u
    assert_success
    assert_output 0
}

@test "den exec: environment, -e, --env-file, -u, -w, HOME" {
    start_sleeper ex -e FROMRUN=1 -w /tmp
    printf '%s\n' '# comment' 'FILEVAR=f' 'SHARED=file' >"$WORK/env"
    run_den exec ex sh -c 'pwd; echo $FROMRUN; echo $HOME; id -u'
    assert_success
    assert_output "/tmp
1
/root
0"
    run_den exec --env-file "$WORK/env" -e SHARED=flag -e NEW=n ex sh -c 'echo $FILEVAR $SHARED $NEW $FROMRUN'
    assert_success
    assert_output "f flag n 1"
    run_den exec -u app -w /home ex sh -c 'id; pwd; echo $HOME'
    assert_success
    assert_output "uid=1000(app) gid=1000(app) groups=2000(extra)
/home
/home/app"
    run_den exec -u 1000:2000 ex sh -c 'id -u; id -g'
    assert_success
    assert_output "1000"$'\n'"2000"
}

@test "den exec: 126, 127 and not running" {
    start_sleeper ex
    # (run -127: tells bats that 127 is expected here)
    DEN_LAST_CMD="den exec ex nosuchcommand"
    run -127 --separate-stderr den exec ex nosuchcommand
    assert_stderr_matches '^Error: .*nosuchcommand: executable file not found'
    DEN_LAST_CMD="den exec ex /bin/nosuch"
    run -127 --separate-stderr den exec ex /bin/nosuch
    run_den exec ex /etc/passwd
    [[ $status -eq 126 ]] || fail "expected 126, got $status"
    assert_stderr_matches "permission denied"
    run_den exec -w /nonexistent ex pwd
    [[ $status -eq 126 ]] || fail "expected 126, got $status"
    run_den exec -u nosuchuser ex true
    [[ $status -eq 126 ]] || fail "expected 126, got $status"
    assert_stderr_matches "unable to find user nosuchuser"
    run_den exec -w relative ex pwd
    assert_den_error "absolute"

    den create --network none --name stopped bb true >/dev/null
    run_den exec stopped true
    assert_den_error "container stopped is not running"
    run_den exec nosuchcontainer true
    assert_den_error "no such container"
}

@test "den exec: stdin only with -i" {
    start_sleeper ex
    run_sh "echo piped | \$DEN exec -i ex cat"
    assert_success
    assert_output piped
    run_sh "echo piped | \$DEN exec ex cat"
    assert_success
    assert_output ""
    # stdout and stderr are kept apart.
    run_den exec ex sh -c 'echo out; echo err >&2'
    assert_success
    assert_output out
    assert_equal "$stderr" err
}

@test "den exec relays stdin, stdout and stderr byte for byte, whatever den's descriptors are" {
    start_sleeper ex
    head -c 3000000 /dev/urandom >"$WORK/in"
    local sum
    sum=$(sha256sum <"$WORK/in" | cut -d' ' -f1)
    # A file in, a file out (splice both ways).
    den exec -i ex cat <"$WORK/in" >"$WORK/out"
    assert_equal "$(sha256sum <"$WORK/out" | cut -d' ' -f1)" "$sum" "stdin file to stdout file"
    # Pipes on both sides, and stderr separately.
    den exec -i ex sh -c 'cat; cat /etc/passwd >&2' <"$WORK/in" 2>"$WORK/err" | cat >"$WORK/out2"
    assert_equal "$(sha256sum <"$WORK/out2" | cut -d' ' -f1)" "$sum" "through pipes"
    den exec ex cat /etc/passwd >"$WORK/passwd"
    cmp "$WORK/err" "$WORK/passwd" || fail "stderr differs"
    # An O_APPEND file (splice refuses it: read and write instead).
    echo first >"$WORK/app"
    den exec -i ex cat <"$WORK/in" >>"$WORK/app"
    assert_equal "$(tail -c +7 "$WORK/app" | sha256sum | cut -d' ' -f1)" "$sum" "appended"
    # A reader that goes away: den ends with the process, no hang.
    run_sh "\$DEN exec ex sh -c 'yes | head -c 50000000' | head -c 10 >/dev/null; echo done"
    assert_success
    assert_output done
}

@test "den exec -d runs in the background" {
    start_sleeper ex
    run_den exec -d ex sh -c 'sleep 1; echo done >/tmp/d'
    assert_success
    assert_output ""
    local i
    for i in $(seq 50); do
        run_den exec ex cat /tmp/d
        [[ $status -eq 0 ]] && break
        sleep 0.2
    done
    assert_success
    assert_output done
}

@test "den exec forwards SIGTERM and SIGINT to the process" {
    start_sleeper ex
    local sig
    for sig in TERM INT; do
        "$DEN" exec ex sh -c "trap 'echo got $sig; exit 5' $sig; echo ready; while :; do sleep 0.1; done" >"$WORK/out" &
        local pid=$!
        local i
        for i in $(seq 100); do
            grep -q ready "$WORK/out" && break
            sleep 0.1
        done
        kill -s "$sig" "$pid"
        local rc=0
        wait "$pid" || rc=$?
        assert_equal "$rc" 5 "exit code after SIG$sig"
        grep -q "got $sig" "$WORK/out" || fail "the process did not get SIG$sig: $(cat "$WORK/out")"
    done
}

@test "den exec: the container's capabilities, all with --privileged" {
    start_sleeper ex --cap-drop chown
    local want
    want=$(den exec ex sh -c 'grep CapBnd /proc/1/status')
    run_den exec ex grep CapBnd /proc/self/status
    assert_success
    assert_output "$want"
    run_den exec --privileged ex grep CapEff /proc/self/status
    assert_success
    [[ $output != "$want" && $output =~ CapEff:[[:space:]]+0*1?f+$ ]] || fail "not all capabilities: $output"
    # A non-root user has no effective capabilities.
    run_den exec -u app ex grep CapEff /proc/self/status
    assert_success
    assert_line_matches 'CapEff:[[:space:]]+0+$'
}

# ---------------------------------------------------------------------------
# Signals reach the container (its signal mask is clean)

@test "the container process starts with no blocked signals" {
    run_den run --rm --network none bb grep SigBlk /proc/self/status
    assert_success
    assert_line_matches 'SigBlk:[[:space:]]+0+$'
    start_sleeper ex
    run_den exec ex grep SigBlk /proc/self/status
    assert_success
    assert_line_matches 'SigBlk:[[:space:]]+0+$'
}

# ---------------------------------------------------------------------------
# Interactive: a real terminal

@test "den run -it: prompt, input, Ctrl-C, window size, exit code" {
    pty_run 33 99 "$DEN" run -it --rm --network none bb sh <<'EOF'
expect # 
send echo $((6*7))\r
expect \r\n42\r\n
send tty\r
expect \r\n/dev/pts/0\r\n
send stty size\r
expect 33 99
send sleep 100\r
sleep 0.5
send \x03
expect # 
send echo alive\r
expect \r\nalive\r\n
send exit 3\r
EOF
    if [[ $status -ne 3 ]]; then
        show_result
        fail "expected exit status 3, got $status"
    fi
}

@test "den exec -it: prompt, input, Ctrl-C, window size and resize, exit code" {
    start_sleeper ex
    pty_run 33 99 "$DEN" exec -it ex sh <<'EOF'
expect # 
send echo $((6*7))\r
expect \r\n42\r\n
send tty\r
expect \r\n/dev/pts/
send stty size\r
expect 33 99
winsize 40 120
sleep 0.3
send stty size\r
expect 40 120
send sleep 100\r
sleep 0.5
send \x03
expect # 
send echo $TERM\r
expect \r\nxterm\r\n
send exit 3\r
EOF
    if [[ $status -ne 3 ]]; then
        show_result
        fail "expected exit status 3, got $status"
    fi
    # The shell is gone, the container runs on.
    run_den ps --format '{{.Names}}'
    assert_output ex
}

@test "den exec -t without -i: a terminal, no input" {
    start_sleeper ex
    run_den exec -t ex sh -c 'test -t 0 && test -t 1 && echo tty'
    assert_success
    assert_output $'tty\r'
}

# ---------------------------------------------------------------------------
# den attach

@test "den attach to a tty container: input, output, detach with ctrl-p ctrl-q" {
    den run -d -it --network none --name at bb sh >/dev/null
    pty_run 30 90 "$DEN" attach at <<'EOF'
sleep 0.3
send echo hi$((40+2))\r
expect hi42
send stty size\r
expect 30 90
send \x10\x11
EOF
    assert_success
    run_den inspect -f '{{.State.Status}}' at
    assert_output running

    # Custom detach keys; exiting the shell ends attach with its exit code.
    pty_run 30 90 "$DEN" container attach --detach-keys ctrl-x,y at <<'EOF'
sleep 0.3
send echo again\r
expect \r\nagain\r\n
send exit 6\r
EOF
    if [[ $status -ne 6 ]]; then
        show_result
        fail "expected exit status 6, got $status"
    fi
    run_den inspect -f '{{.State.Status}} {{.State.ExitCode}}' at
    assert_output "exited 6"
}

@test "den attach to a non-tty container: output, stdin, --no-stdin, signals" {
    den run -d -i --network none --name at bb sh >/dev/null
    run_sh "printf 'echo fromattach\nexit 4\n' | \$DEN attach at"
    assert_failure 4
    assert_output fromattach

    den run -d --network none --name ticker bb sh -c 'while :; do echo tick; sleep 0.2; done' >/dev/null
    run_sh "timeout -k 5 -s INT 1.5 \$DEN attach --no-stdin --sig-proxy=false ticker"
    assert_line_matches '^tick$'
    run_den inspect -f '{{.State.Status}}' ticker
    assert_output running

    # sig-proxy (the default): SIGTERM reaches the container.
    den run -d --network none --name trapper bb sh -c 'trap "echo TERMed; exit 9" TERM; while :; do sleep 0.1; done' >/dev/null
    "$DEN" attach trapper >"$WORK/out" &
    local pid=$!
    sleep 1
    kill -TERM "$pid"
    local rc=0
    wait "$pid" || rc=$?
    assert_equal "$rc" 9 "exit code"
    grep -q TERMed "$WORK/out" || fail "no TERMed in: $(cat "$WORK/out")"
}

@test "den attach: errors" {
    den create --network none --name created bb true >/dev/null
    run_den attach created
    assert_den_error "not running"
    run_den attach nosuchcontainer
    assert_den_error "no such container"
    den run -d -it --network none --name at bb sh >/dev/null
    run_den attach --detach-keys ctrl-pp at
    assert_den_error "invalid --detach-keys"
}
