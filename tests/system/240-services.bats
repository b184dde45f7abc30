#!/usr/bin/env bats
# Services: health checks (run by the monitor), events, restart display,
# `generate systemd`, Quadlet files, sd_notify, --replace, start --all.

load helpers

local_setup() {
    import_busybox bb >/dev/null
    unset INVOCATION_ID NOTIFY_SOCKET
}

local_teardown() {
    [[ -z ${BG_PID:-} ]] || kill "$BG_PID" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# Health checks

@test "health: starting -> healthy -> unhealthy, in ps, inspect, wait and events" {
    local since
    since=$(date +%s)
    den run -d --network none --name hc --health-cmd 'cat /tmp/ok' \
        --health-interval 1s --health-retries 2 bb sh -c 'echo fine >/tmp/ok; sleep 1000' >/dev/null
    run_den ps --format '{{.Names}} {{.Status}}'
    assert_success
    assert_line_matches '^hc Up .* \(health: starting\)$'
    run_den inspect -f '{{.State.Health.Status}} {{json .Config.Healthcheck.Test}} {{.Config.Healthcheck.Interval}}' hc
    assert_output 'starting ["CMD-SHELL","cat /tmp/ok"] 1000000000'

    run_den wait --condition healthy hc
    assert_success
    run_den ps --format '{{.Status}}'
    assert_output_contains "(healthy)"
    run_den inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}' hc
    assert_output "healthy 0 0 fine"

    den exec hc rm /tmp/ok
    run timeout 20 "$DEN" wait --condition unhealthy hc
    assert_success
    run_den inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}}' hc
    assert_line_matches '^unhealthy [2-9]$'
    run_den ps --format '{{.Status}}'
    assert_output_contains "(unhealthy)"
    # The container itself keeps running (--health-on-failure=none).
    run_den inspect -f '{{.State.Running}}' hc
    assert_output true

    run_den events --since "$since" --stream=false -f event=health_status --format '{{.Action}} {{.Actor.Attributes.name}}'
    assert_success
    assert_output "health_status: healthy hc
health_status: unhealthy hc"
}

@test "health: failures in the start period do not count; healthcheck run" {
    den run -d --network none --name sp --health-cmd 'test -e /tmp/ok' --health-interval 500ms \
        --health-retries 1 --health-start-period 60s bb sleep 1000 >/dev/null
    sleep 2.5
    run_den inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}} {{len .State.Health.Log}}' sp
    assert_line_matches '^starting 0 [2-9]$'
    run_den healthcheck run sp
    assert_failure 1
    assert_output starting
    den exec sp touch /tmp/ok
    run_den healthcheck run sp
    assert_success
    assert_output healthy
    run_den ps --format '{{.Status}}'
    assert_output_contains "(healthy)"

    den run -d --network none --name plain bb sleep 1000 >/dev/null
    run_den healthcheck run plain
    assert_den_error 'container plain has no defined healthcheck'
    run_den healthcheck run nosuch
    assert_den_error 'no such container'
}

@test "health: a hanging check is killed at --health-timeout" {
    den run -d --network none --name hang --health-cmd 'sleep 300' --health-timeout 1s \
        --health-interval 1s --health-retries 1 bb sleep 1000 >/dev/null
    run timeout 20 "$DEN" wait --condition unhealthy hang
    assert_success
    run_den inspect -f '{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}' hang
    assert_output "-1 Health check exceeded timeout (1s)"
    # The killed check left no process behind (at most the one running now).
    run_den exec hang sh -c 'ps -o args | grep -c "^sleep 300" || true'
    assert_line_matches '^[01]$'
}

@test "health: --health-on-failure kill, restart and stop" {
    den run -d --network none --name hk --health-cmd false --health-interval 500ms --health-retries 1 \
        --health-on-failure kill bb sleep 1000 >/dev/null
    run timeout 20 "$DEN" wait hk
    assert_success
    assert_output 137

    den run -d --network none --name hr --tmpfs /run --health-cmd 'test ! -e /run/started' --health-interval 500ms \
        --health-retries 1 --health-on-failure restart bb sh -c 'sleep 1000' >/dev/null
    # The check fails once a file exists; create it: the container is restarted (a new run, a new /run).
    den exec hr touch /run/started
    wait_for 20 '[[ $("$DEN" inspect -f "{{.RestartCount}} {{.State.Running}}" hr) == "1 true" ]]'
    run_den inspect -f '{{.RestartCount}} {{.State.Running}} {{.HostConfig.RestartPolicy.Name}}' hr
    assert_output "1 true no"

    den run -d --network none --name hs --restart always --health-cmd false --health-interval 500ms \
        --health-retries 1 --health-on-failure stop --stop-timeout 1 bb sleep 1000 >/dev/null
    run timeout 20 "$DEN" wait hs
    assert_success
    sleep 1
    # Stopped, not restarted by its policy.
    run_den inspect -f '{{.State.Status}} {{.RestartCount}}' hs
    assert_output "exited 0"
}

@test "health: bad options are refused" {
    run_den run --rm --network none --health-interval soon --health-cmd true bb true
    assert_den_error 'invalid --health-interval "soon"'
    run_den run --rm --network none --health-on-failure explode --health-cmd true bb true
    assert_den_error 'invalid --health-on-failure "explode": use none, kill, restart or stop'
    run_den run --rm --network none --no-healthcheck --health-cmd true bb true
    assert_den_error 'conflicts'
    run_den run --rm --network none --health-retries many --health-cmd true bb true
    assert_den_error 'invalid --health-retries'
    run_den run --rm --network none --health-interval 1s bb true
    assert_den_error 'need a check'
    run_den run --rm --network none --sdnotify=sometimes bb true
    assert_den_error 'invalid --sdnotify "sometimes"'
    run_den wait --condition blue nosuch
    assert_den_error
    run_den ps -aq
    assert_output ""
}

# ---------------------------------------------------------------------------
# Events

@test "events: a full life cycle, filtered, as text, json and template" {
    local since
    since=$(date +%s)
    den create --network none --name ev -l tier=web bb sh -c 'exit 3' >/dev/null
    den start ev >/dev/null
    den wait ev >/dev/null
    den run -d --network none --name ev2 bb sleep 1000 >/dev/null
    den kill ev2 >/dev/null
    den wait ev2 >/dev/null
    den rm ev ev2 >/dev/null
    den tag bb bb:two
    den rmi bb:two >/dev/null
    sleep 0.2
    local until
    until=$(($(date +%s) + 1))

    run_den events --since "$since" --until "$until" --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'
    assert_success
    assert_output "container create ev
container start ev
container die ev
container create ev2
container start ev2
container kill ev2
container die ev2
container destroy ev
container destroy ev2
image tag docker.io/library/bb:two
image untag docker.io/library/bb:two"

    run_den events --since "$since" --stream=false -f type=container -f event=die --format json
    assert_success
    assert_line_count 2
    run jq -r '"\(.status) \(.Actor.Attributes.name) \(.Actor.Attributes.exitCode) \(.from) \(.id | length)"' <<<"$output"
    assert_output "die ev 3 bb 64
die ev2 137 bb 64"

    run_den events --since "$since" --stream=false -f container=ev -f label=tier=web
    assert_success
    assert_line_count 4
    assert_line_matches '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{9}Z container destroy [0-9a-f]{64} \(image=bb, name=ev, tier=web\)$'

    run_den events --stream=false -f colour=red
    assert_den_error 'unknown key "colour"'
    run_den events --since yesterday-ish --stream=false
    assert_den_error 'invalid --since'
}

@test "events: volume and network create and destroy, filtered by name" {
    local since until
    since=$(date +%s)
    den volume create evvol >/dev/null
    den network create evnet >/dev/null
    den network rm evnet >/dev/null
    den volume rm evvol >/dev/null
    sleep 0.2
    until=$(($(date +%s) + 1))
    run_den events --since "$since" --until "$until" \
        --format '{{.Type}} {{.Action}} {{if eq .Type "volume"}}{{.Actor.ID}} {{.Actor.Attributes.driver}}{{else}}{{.Actor.Attributes.name}} {{.Actor.Attributes.type}} {{len .Actor.ID}}{{end}}'
    assert_success
    assert_output "volume create evvol local
network create evnet bridge 64
network destroy evnet bridge 64
volume destroy evvol local"
    run_den events --since "$since" --until "$until" -f volume=evvol --format '{{.Action}} {{.Actor.ID}}'
    assert_output "create evvol
destroy evvol"
    run_den events --since "$since" --until "$until" -f network=evnet -f event=destroy --format '{{.Type}} {{.Action}}'
    assert_output "network destroy"
}

@test "events: follows new events like tail -f, until --until" {
    "$DEN" events --format '{{.Action}} {{.Actor.Attributes.name}}' >"$WORK/ev.out" 2>&1 &
    BG_PID=$!
    sleep 0.5
    den run --rm --network none --name live bb true
    wait_for 10 'grep -q "destroy live" "$WORK/ev.out"'
    run cat "$WORK/ev.out"
    assert_output "create live
start live
die live
destroy live"
    kill "$BG_PID"
    BG_PID=

    # --until in the near future: the stream ends by itself.
    run timeout 10 "$DEN" events --until 1s
    assert_success
}

@test "events: the log is rotated by size and still read whole" {
    mkdir -p "$RUNROOT/events"
    # 1.1 MB of old events: the next write rotates the file.
    python3 - "$RUNROOT/events/events.log" <<'PY'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(6000):
        f.write(json.dumps({"Type": "container", "Action": "start", "Actor": {"ID": "x%d" % i, "Attributes": {"name": "old", "pad": "p" * 100}}, "timeNano": 1000 + i}) + "\n")
PY
    den create --network none --name rot bb true >/dev/null
    [[ -f $RUNROOT/events/events.log.1 ]]
    run_den events --since 0 --stream=false -f container=rot --format '{{.Action}}'
    assert_output create
    run_den events --since 0 --stream=false -f container=old --format '{{.Action}}'
    assert_line_count 6000
}

# ---------------------------------------------------------------------------
# Restart policies in ps and inspect

@test "restart: ps shows Restarting (CODE) and inspect the count" {
    den run -d --network none --name rs --restart always bb sh -c 'exit 2' >/dev/null
    # From the 5th restart on, the back-off (1.6 s, 3.2 s, ...) leaves time to look.
    wait_for 30 '[[ $("$DEN" inspect -f "{{.State.Restarting}} {{.RestartCount}}" rs) =~ ^true\ ([5-9]|[1-9][0-9])$ ]]'
    run_den ps -a --format '{{.Names}} {{.Status}}'
    assert_line_matches '^rs Restarting \(2\) .* ago$'
    # docker's ps without -a lists restarting containers too.
    run_den ps --format '{{.Names}} {{.Status}}'
    assert_line_matches '^rs Restarting \(2\) .* ago$'
    run_den inspect -f '{{.State.Status}} {{.State.Restarting}}' rs
    assert_output "restarting true"
    run_den inspect -f '{{.RestartCount}}' rs
    [[ $output -ge 2 ]]
    run_den stop rs
    assert_success
    run_den inspect -f '{{.State.Status}} {{.State.Restarting}}' rs
    assert_output "exited false"
}

# ---------------------------------------------------------------------------
# systemd

@test "generate systemd: unit text, --new recreates the container, --files" {
    den run -d --network none --name web -e 'A=1 2' --restart always --stop-timeout 4 bb httpd -f -p 8080 >/dev/null
    local den
    den=$(readlink -f "$DEN")
    run_den generate systemd --name web
    assert_success
    assert_output_contains "ExecStart=$den start web"
    assert_output_contains "ExecStop=-$den stop -t 4 web"
    assert_output_contains "Type=notify"
    assert_output_contains "NotifyAccess=all"
    assert_output_contains "Restart=on-failure"
    assert_output_contains "# container-web.service"

    run_den generate systemd --new --name --restart-policy always --no-header web
    assert_success
    assert_output_contains "ExecStart=$den run -d --replace --rm --sdnotify=conmon --name web \"--env=A=1 2\" --network=none --stop-timeout=4 bb httpd -f -p 8080"
    assert_output_contains "ExecStopPost=-$den rm -f web"
    assert_output_contains "Restart=always"
    assert_output_not_contains "--restart=always"
    assert_output_not_contains "# container-web.service"
    # systemd itself accepts the unit.
    printf '%s\n' "$output" >"$WORK/container-web.service"
    run systemd-analyze --user --man=no verify "$WORK/container-web.service"
    [[ $output != *"container-web.service:"* ]] || { echo "$output"; false; }

    cd "$WORK"
    run_den generate systemd --files --name web
    assert_success
    assert_output "$WORK/container-web.service"
    grep -q '^ExecStart=.* start web$' "$WORK/container-web.service"

    run_den generate systemd --restart-policy sometimes web
    assert_den_error 'invalid --restart-policy "sometimes"'
    run_den generate systemd nosuch
    assert_den_error 'no such container'
}

@test "generate systemd --new keeps the store's global options on every Exec line" {
    local den alt="$WORK/alt-store"
    den=$(readlink -f "$DEN")
    den --root "$alt" import "$(busybox_tar)" bb >/dev/null
    den --root "$alt" create --network none --name web bb sleep 1000 >/dev/null
    run_den --root "$alt" generate systemd --new --name web
    assert_success
    assert_output_contains "ExecStart=$den --root=$alt run -d --replace --rm --sdnotify=conmon --name web --network=none bb sleep 1000"
    assert_output_contains "ExecStop=-$den --root=$alt stop -t 10 web"
    assert_output_contains "ExecStopPost=-$den --root=$alt rm -f web"
    # Global options before the command, value as a separate word, in the
    # recorded create command: still parsed.
    den --root "$alt" create --network none --name web2 bb true >/dev/null
    run_den --root "$alt" generate systemd --new web2
    assert_success
    assert_output_contains "--root=$alt run -d --replace --rm --sdnotify=conmon --name web2 --network=none bb true"
    # The default store has no such container.
    run_den generate systemd web
    assert_den_error 'no such container'
}

@test "sdnotify: conmon sends MAINPID and READY=1; container gets the socket" {
    python3 - "$WORK/notify.sock" "$WORK/notify.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "w") as f:
    f.write(s.recv(4096).decode() + "\n---\n")
    f.flush()
    f.write(s.recv(4096).decode() + "\n")
PY
    BG_PID=$!
    wait_for 10 '[[ -S $WORK/notify.sock ]]'
    NOTIFY_SOCKET=$WORK/notify.sock den run -d --network none --name n1 bb sleep 1000 >/dev/null
    wait_for 10 'grep -q READY=1 "$WORK/notify.out"'
    local mainpid
    mainpid=$(sed -n 's/^MAINPID=//p' "$WORK/notify.out")
    [[ $(cat /proc/$mainpid/comm) == den-monitor ]]
    grep -qx 'READY=1' "$WORK/notify.out"

    NOTIFY_SOCKET=$WORK/notify.sock den run -d --network none --sdnotify=container --name n2 bb \
        sh -c 'echo "$NOTIFY_SOCKET" >/tmp/ns; sleep 1000' >/dev/null
    wait_for 10 '[[ $(grep -c MAINPID "$WORK/notify.out") == 2 ]]'
    run sed -n '4p' "$WORK/notify.out"
    assert_line_matches '^MAINPID=[0-9]+$'
    run_den exec n2 sh -c 'cat /tmp/ns; test -S /run/notify/notify.sock && echo socket'
    assert_output "/run/notify/notify.sock
socket"
    # ignore: nothing is sent, the variable is not passed on.
    NOTIFY_SOCKET=$WORK/notify.sock den run --rm --network none --sdnotify=ignore bb sh -c 'echo "[$NOTIFY_SOCKET]"' >"$WORK/ign.out"
    [[ $(cat "$WORK/ign.out") == "[]" ]]
}

@test "sdnotify=healthy: MAINPID at once, READY=1 only once the health check passes" {
    python3 - "$WORK/hn.sock" "$WORK/hn.out" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "w") as f:
    while True:
        f.write(s.recv(4096).decode() + "\n")
        f.flush()
PY
    BG_PID=$!
    wait_for 10 '[[ -S $WORK/hn.sock ]]'
    NOTIFY_SOCKET=$WORK/hn.sock den run -d --network none --name hn --sdnotify=healthy \
        --health-cmd 'test -e /tmp/up' --health-interval 1s bb sleep 1000 >/dev/null
    wait_for 10 'grep -q MAINPID "$WORK/hn.out"'
    sleep 2.5  # two failing checks: no READY yet
    run grep -c READY=1 "$WORK/hn.out"
    assert_output 0
    den exec hn touch /tmp/up
    wait_for 15 'grep -qx READY=1 "$WORK/hn.out"'
    run_den inspect -f '{{.State.Health.Status}}' hn
    assert_output healthy
    kill "$BG_PID"
    BG_PID=
    run_den run --rm --network none --sdnotify=healthy bb true
    assert_den_error "--sdnotify=healthy waits for the health check"
}

@test "run --replace replaces a container of the same name; start --all --filter" {
    den run -d --network none --name rp bb sleep 1000 >/dev/null
    local first
    first=$(den inspect -f '{{.Id}}' rp)
    run_den run -d --network none --name rp bb sleep 1000
    assert_den_error 'in use|exists|taken'
    run_den run -d --replace --network none --name rp bb sleep 1000
    assert_success
    [[ $output != "$first" ]]
    run_den ps -a --format '{{.Names}}'
    assert_output rp

    den create --network none --name a1 --restart always bb sleep 1000 >/dev/null
    den create --network none --name a2 --restart unless-stopped bb sleep 1000 >/dev/null
    den create --network none --name a3 bb sleep 1000 >/dev/null
    den run -d --network none --name a4 --restart unless-stopped bb sleep 1000 >/dev/null
    den stop -t 0 a4 >/dev/null
    run_den start --all --filter restart-policy=always --filter restart-policy=unless-stopped
    assert_success
    assert_output "a1
a2"
    run_den ps --format '{{.Names}}' 
    assert_line_count 3
    run_den start --all --filter colour=red
    assert_den_error 'invalid --filter "colour=red"'
    run_den start
    assert_den_error 'requires at least 1 argument'
}

@test "run -d without linger, outside a unit, advises loginctl enable-linger, once" {
    [[ ! -e /var/lib/systemd/linger/$(id -un) ]] || skip "this user has linger"
    run_den run -d --network none bb sleep 1000
    assert_success
    assert_stderr_contains "loginctl enable-linger $(id -un)"
    run_den run -d --network none --restart always bb sleep 1000
    assert_success
    assert_stderr_empty
    # Inside a systemd unit (INVOCATION_ID set) the unit keeps the container: no advice.
    rm -f "$RUNROOT/linger-advice"
    run_sh "INVOCATION_ID=0123 '$DEN' run -d --network none bb sleep 1000"
    assert_success
    assert_stderr_empty
}

# ---------------------------------------------------------------------------
# Quadlet

@test "quadlet: list, print, generate units (and .wants links)" {
    local q=$XDG_CONFIG_HOME/containers/systemd
    mkdir -p "$q"
    cat >"$q/web.container" <<'EOF2'
# the web server
[Unit]
Description=Web server

[Container]
Image=bb
ContainerName=web
Exec=httpd -f -p 8080
Environment=A=1 "B=two words"
HealthCmd=true
Network=none

[Install]
WantedBy=default.target
EOF2
    printf '[Volume]\nVolumeName=data\n' >"$q/data.volume"
    run_den quadlet list --format '{{.Name}} {{.UnitName}} {{.Path}}'
    assert_success
    assert_output "data.volume data-volume.service $q/data.volume
web.container web.service $q/web.container"
    run_den quadlet print web.container
    assert_success
    assert_output "$(cat "$q/web.container")"

    local out=$WORK/gen
    run_den quadlet generate --user "$out" "$WORK/early" "$WORK/late"
    assert_success
    local den
    den=$(readlink -f "$DEN")
    grep -qx "ExecStart=$den run --name web --replace --rm -d --sdnotify=conmon --env=A=1 \"--env=B=two words\" --health-cmd=true --network=none bb httpd -f -p 8080" "$out/web.service"
    grep -qx 'Description=Web server' "$out/web.service"
    grep -qx "SourcePath=$q/web.container" "$out/web.service"
    [[ $(readlink "$out/default.target.wants/web.service") == ../web.service ]]
    grep -qx "ExecStart=$den volume create --ignore data" "$out/data-volume.service"
    run systemd-analyze --user --man=no verify "$out/web.service"
    [[ $output != *"web.service:"* ]] || { echo "$output"; false; }

    run_den quadlet generate --dry-run
    assert_success
    assert_line_matches '^---web\.service---$'
    run_den quadlet print nosuch.container
    assert_den_error 'no Quadlet file nosuch.container'
}

@test "quadlet: bad files are reported as FILE:LINE and produce no unit" {
    local q=$XDG_CONFIG_HOME/containers/systemd
    mkdir -p "$q"
    printf '[Container]\nImage=bb\nExec=true\nColour=blue\n' >"$q/bad.container"
    printf '[Unit]\nDescription=no image\n[Container]\nExec=true\n' >"$q/noimage.container"
    printf '[Container]\nImage=bb\n' >"$q/good.container"
    local out=$WORK/gen
    run_den quadlet generate --user "$out"
    assert_failure 1
    assert_stderr_contains "den-quadlet: $q/bad.container:4: unknown key \"Colour\" in [Container]"
    assert_stderr_contains "den-quadlet: $q/noimage.container:3: [Container] has no Image="
    [[ -f $out/good.service ]]
    [[ ! -e $out/bad.service && ! -e $out/noimage.service ]]
}

# ---------------------------------------------------------------------------
# auto-update

@test "auto-update --dry-run: a newer local image under the container's name is pending" {
    DEN_SYSTEMD_UNIT=au.service den run -d --network none --name au -l io.containers.autoupdate=local bb sleep 1000 >/dev/null
    local id
    id=$(den inspect -f '{{.Id}}' au)
    run_den auto-update --dry-run --format '{{.Unit}} {{.Container}} {{.Image}} {{.Policy}} {{.Updated}}'
    assert_success
    assert_output "au.service ${id:0:12} (au) bb local false"
    # A different image now has the name bb.
    den import -m "a newer bb" "$(busybox_tar)" bb >/dev/null
    run_den auto-update --dry-run --format '{{.Unit}} {{.Updated}}'
    assert_success
    assert_output "au.service pending"
    run_den inspect -f '{{index .Config.Labels "PODMAN_SYSTEMD_UNIT"}}' au
    assert_output au.service

    # A labelled container that no unit runs is an error.
    den run -d --network none --name nounit -l io.containers.autoupdate=local bb sleep 1000 >/dev/null
    run_den auto-update --dry-run --format '{{.Container}} {{.Updated}}'
    assert_failure 125
    assert_stderr_contains "container nounit is not run by a systemd unit"
}
