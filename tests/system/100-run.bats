#!/usr/bin/env bats
# Container life cycle: run, create, start, stop, kill, restart, rm, ps, logs,
# wait, rename, inspect; exit codes; options of run.

load helpers

local_setup() {
    import_busybox bb >/dev/null
}

@test "run --rm: output and exit code of the container" {
    run_den run --rm --network none bb echo hello
    assert_success
    assert_output hello
    run_den run --rm --network none bb sh -c 'exit 3'
    assert_failure 3
    run_den ps -aq
    assert_output ""
}

@test "run: 127 for a missing command, 126 for a non-executable one" {
    run_den run --rm --network none bb nosuchcmd
    assert_failure 127
    assert_stderr_contains "nosuchcmd"
    run_den run --rm --network none bb /etc/passwd
    assert_failure 126
    run_den run --network none --name gone bb nosuchcmd
    assert_failure 127
    run_den inspect -f '{{.State.ExitCode}} {{.State.Status}}' gone
    assert_success
    assert_output "127 exited"
}

@test "run -i: stdin is piped and EOF reaches the container" {
    run_sh "printf 'line1\nline2\n' | \$DEN run -i --rm --network none bb cat"
    assert_success
    assert_output "$(printf 'line1\nline2')"
    run_sh "echo data | \$DEN run -i --rm --network none bb wc -c"
    assert_success
    assert_output 5
}

@test "run: env, env-file, workdir, user, hostname, entrypoint" {
    printf '# comment\nFROMFILE=yes\nA=file\n' >"$WORK/env"
    run_den run --rm --network none --env-file "$WORK/env" -e A=1 -e B=two -w /tmp -u 1000:1000 -h box bb \
        sh -c 'echo "$A $B $FROMFILE $(pwd) $(id -u):$(id -g) $(hostname)"'
    assert_success
    assert_output "1 two yes /tmp 1000:1000 box"
    run_den run --rm --network none --entrypoint /bin/echo bb from entrypoint
    assert_success
    assert_output "from entrypoint"
    run_den run --rm --network none -w /does/not/exist bb pwd
    assert_success
    assert_output /does/not/exist
}

@test "run: the image's Cmd, Entrypoint, Env and WorkingDir are honoured with docker's override rules" {
    den import -c 'ENTRYPOINT ["/bin/echo", "ep"]' -c 'CMD ["default"]' -c 'ENV IMG=1' -c 'WORKDIR /etc' \
        "$(busybox_tar)" epimg >/dev/null
    run_den run --rm --network none epimg
    assert_success
    assert_output "ep default"
    run_den run --rm --network none epimg other args
    assert_success
    assert_output "ep other args"
    run_den run --rm --network none --entrypoint /bin/sh epimg -c 'echo $IMG $(pwd)'
    assert_success
    assert_output "1 /etc"
}

@test "run -d, ps, logs, stop, rm" {
    run_den run -d --network none --name web bb sh -c 'echo started; while true; do sleep 0.2; done'
    assert_success
    assert_all_lines_match '^[0-9a-f]{64}$'
    local id=$output
    run_den ps
    assert_success
    assert_line_matches '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$'
    assert_line_matches "^${id:0:12} +bb +\"sh -c 'echo started.*\" .* Up .* web$|^${id:0:12} +bb +\"sh -c echo start.*Up .*web$"
    run_den ps -q --no-trunc
    assert_output "$id"
    sleep 0.5
    run_den logs web
    assert_success
    assert_output started
    run_den inspect -f '{{.State.Running}} {{.Name}} {{.Id}}' web
    assert_output "true /web $id"
    run_den stop -t 1 web
    assert_success
    assert_output web
    run_den ps -a --format '{{.Names}} {{.Status}}'
    assert_line_matches '^web Exited \(137\) '
    run_den rm web
    assert_output web
    run_den ps -aq
    assert_output ""
}

@test "rm of a running container needs -f; duplicate names are refused" {
    den run -d --network none --name busy bb sleep 100 >/dev/null
    run_den rm busy
    assert_failure 125
    assert_stderr_contains "running"
    run_den run -d --network none --name busy bb sleep 100
    assert_failure 125
    assert_stderr_contains 'already in use'
    run_den rm -f busy
    assert_success
    run_den ps -aq
    assert_output ""
    run_den rm nosuch
    assert_failure 125
    assert_stderr_contains "no such container"
    run_den rm -f nosuch
    assert_success
}

@test "stop: a shell PID 1 ignoring SIGTERM takes the timeout, --init stops at once" {
    den run -d --network none --name slow bb sleep 100 >/dev/null
    local t0=$SECONDS
    run_den stop -t 2 slow
    assert_success
    (( SECONDS - t0 >= 2 )) || fail "stop returned before the timeout"
    den run -d --network none --init --name quick bb sleep 100 >/dev/null
    t0=$SECONDS
    run_den stop -t 10 quick
    assert_success
    (( SECONDS - t0 < 5 )) || fail "stop with --init took $((SECONDS - t0)) s"
    run_den inspect -f '{{.State.ExitCode}}' quick
    assert_output 143
}

@test "--init reaps zombies and is PID 1" {
    run_den run --rm --network none --init bb sh -c 'ps -o pid,comm | sed -n 2p'
    assert_success
    assert_line_matches '^ *1 +den-init'
    # An orphaned child dies: init must reap it, leaving no zombie.
    run_den run --rm --network none --init bb sh -c '(sleep 0.1 &) ; sleep 0.5; ps -o stat,comm | grep -c "^Z" || true'
    assert_success
    assert_output 0
}

@test "restart=on-failure:3 restarts three times and counts them" {
    den run -d --network none --name flaky --restart on-failure:3 bb sh -c 'echo try; exit 1' >/dev/null
    run_den wait flaky
    local i
    for i in $(seq 50); do
        run_den inspect -f '{{.RestartCount}} {{.State.Status}}' flaky
        [[ $output == "3 exited" ]] && break
        sleep 0.2
    done
    assert_output "3 exited"
    run_den logs flaky
    assert_line_count 4
}

@test "create, start, wait, restart, rename, kill" {
    run_den create --network none --name c1 bb sh -c 'exit 7'
    assert_success
    run_den ps -a --format '{{.Names}} {{.Status}}'
    assert_output "c1 Created"
    run_den start c1
    assert_output c1
    run_den wait c1
    assert_output 7
    run_den rename c1 c2
    assert_success
    run_den inspect -f '{{.Name}}' c2
    assert_output /c2
    run_den create --network none --name k bb sh -c 'trap "exit 9" USR1; echo ready; while true; do sleep 0.1; done'
    den start k >/dev/null
    local i
    for i in $(seq 50); do
        [[ $(den logs k) == ready ]] && break
        sleep 0.1
    done
    run_den kill -s USR1 k
    assert_success
    run_den wait k
    assert_output 9
    run_den start -a c2
    assert_failure 7
}

@test "logs -f follows and ends when the container exits; --tail and -t" {
    den run -d --network none --name talker bb sh -c 'for i in 1 2 3; do echo line$i; sleep 0.3; done' >/dev/null
    run_den logs -f talker
    assert_success
    assert_output "$(printf 'line1\nline2\nline3')"
    run_den logs --tail 1 talker
    assert_output line3
    run_den logs -t talker
    assert_line_matches '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z line1$'
}

@test "stdout and stderr stay separate" {
    run_den run --rm --network none bb sh -c 'echo out; echo err >&2'
    assert_success
    assert_output out
    assert_stderr_contains err
}

@test "20 parallel run -d all succeed and ps shows exactly 20" {
    local i pids=()
    for i in $(seq 20); do
        den run -d --network none bb sleep 60 >"$WORK/id.$i" 2>&1 &
        pids+=($!)
    done
    # Only our jobs: bats keeps a timer of its own in the background.
    wait "${pids[@]}"
    run_den ps -q
    assert_line_count 20
    run_den rm -f $(den ps -aq)
    assert_success
    run_den ps -aq
    assert_output ""
}

@test "a -d container keeps running after the calling shell exits" {
    run_sh "setsid bash -c '\$DEN run -d --network none --name survivor bb sleep 100 >/dev/null' </dev/null"
    assert_success
    sleep 0.5
    run_den inspect -f '{{.State.Running}}' survivor
    assert_output true
}

@test "security defaults: masked and read-only paths, capabilities, read-only root, tmpfs" {
    run_den run --rm --network none bb sh -c 'cat /proc/kcore | wc -c; touch /proc/sysrq-trigger 2>&1 || echo ro'
    assert_success
    assert_line_matches '^0$'
    assert_line_matches 'ro$|Read-only'
    run_den run --rm --network none bb sh -c 'grep CapEff /proc/self/status'
    assert_output "$(printf 'CapEff:\t00000000a80425fb')"
    run_den run --rm --network none --cap-drop all bb sh -c 'grep CapEff /proc/self/status'
    assert_output "$(printf 'CapEff:\t0000000000000000')"
    run_den run --rm --network none --read-only --tmpfs /scratch bb sh -c 'touch /x 2>/dev/null || echo rofs; touch /scratch/y && echo tmpfs-ok'
    assert_output "$(printf 'rofs\ntmpfs-ok')"
    run_den run --rm --network none --security-opt no-new-privileges bb sh -c 'grep NoNewPrivs /proc/self/status'
    assert_output "$(printf 'NoNewPrivs:\t1')"
    run_den run --rm --network none --ulimit nofile=100:200 bb sh -c 'ulimit -n; ulimit -Hn'
    assert_output "$(printf '100\n200')"
}

@test "bad input: unknown flag, env file line, user, missing image" {
    run_den run --bogus bb true
    assert_failure 125
    assert_stderr_contains "unknown flag: --bogus"
    printf 'GOOD=1\nBAD LINE\n' >"$WORK/bad.env"
    run_den run --rm --network none --env-file "$WORK/bad.env" bb true
    assert_failure 125
    assert_stderr_contains "line 2"
    run_den run --rm --network none -u nosuchuser bb true
    assert_failure 126
    assert_stderr_contains "unable to find user nosuchuser"
    run_den run --rm --network none nosuchimage true
    assert_failure 125
    assert_stderr_contains "nosuchimage"
    run_den ps -aq
    assert_output ""
    assert_no_staging_leftovers
    run_den system check
    assert_success
}

@test "SIGKILL of den or of the monitor leaves no stale state" {
    den run -d --network none --name victim bb sleep 100 >/dev/null
    local mon
    mon=$(den inspect -f '{{.State.Pid}}' victim)
    mon=$(ps -o ppid= -p "$mon" | tr -d ' ')
    kill -9 "$mon"
    sleep 0.5
    run_den ps -a --format '{{.Names}} {{.State}}'
    assert_output "victim exited"
    run_den rm -f victim
    assert_success
    # den killed in the middle of run: the next commands work.
    ( den run --rm --network none bb sleep 1 >/dev/null 2>&1 & pid=$!; sleep 0.2; kill -9 $pid ) || true
    sleep 1.5
    run_den run --rm --network none bb echo still-works
    assert_success
    assert_output still-works
    run_den system check
    assert_success
    assert_output OK
}

@test "run --rootfs runs a plain directory" {
    run_den run --rm --network none --rootfs "$(busybox_rootfs)" /bin/sh -c 'echo from-rootfs'
    assert_success
    assert_output from-rootfs
}

@test "ps filters before=, since= and network=" {
    local n
    for n in f1 f2 f3; do
        den create --name "$n" --network none bb true >/dev/null
    done
    den create --name f4 --network host bb true >/dev/null
    run_den ps -a --filter since=f1 --filter before=f3 --format '{{.Names}}'
    assert_output f2
    run_den ps -a -f before=f2 --format '{{.Names}}'
    assert_output f1
    run_den ps -a -f network=host --format '{{.Names}}'
    assert_output f4
    # A user network by name, by ID and by ID prefix (created, not started:
    # no namespace is made).
    local nid
    nid=$(den network create psnet)
    den create --name f5 --network psnet bb true >/dev/null
    for v in psnet "$nid" "${nid:0:12}"; do
        run_den ps -a -f "network=$v" --format '{{.Names}}'
        assert_output f5
    done
    den rm f5 >/dev/null
    den network rm psnet >/dev/null
    run_den ps -a -f before=nosuch
    assert_den_error "nosuch"
    run_den ps -a -f colour=red
    assert_den_error "invalid filter"
}
