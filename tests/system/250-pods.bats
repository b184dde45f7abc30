#!/usr/bin/env bats
# Pods (podman's `pod ...`): an infra container holding the network, IPC and
# UTS namespaces, members joining them, the pod commands, systemd support
# (--infra-conmon-pidfile, --pod-id-file, --exit-policy=stop, READY for
# Type=notify) and crash safety.

load helpers

local_setup() {
    import_busybox bb >/dev/null
    unset INVOCATION_ID NOTIFY_SOCKET
}

local_teardown() {
    den pod rm -f -a >/dev/null 2>&1 || true
    local ids
    ids=$(den ps -aq 2>/dev/null) || true
    [[ -z $ids ]] || den rm -f $ids >/dev/null 2>&1 || true
    [[ -z ${BG_PID:-} ]] || kill "$BG_PID" 2>/dev/null || true
}

pod_line() {
    den pod ps --format '{{.Name}} {{.Status}} {{.NumberOfContainers}}' -f "name=^$1\$"
}

@test "pod life cycle: create, start, members, stop, rm, with pod ps" {
    run_den pod create --name p1
    assert_success
    local pid=$output
    [[ $pid =~ ^[0-9a-f]{64}$ ]]
    local infra
    infra=$(den pod inspect --format '{{.InfraContainerID}}' p1)
    [[ $infra =~ ^[0-9a-f]{64}$ ]]

    # The table: podman's columns, one pod, the infra counted.
    run_den pod ps
    assert_success
    assert_line_count 2
    [[ ${lines[0]} =~ ^POD\ ID\ +NAME\ +STATUS\ +CREATED\ +INFRA\ ID\ +#\ OF\ CONTAINERS$ ]] || fail "header: ${lines[0]}"
    [[ ${lines[1]} =~ ^${pid:0:12}\ +p1\ +Created\ +.*\ ago\ +${infra:0:12}\ +1$ ]] || fail "row: ${lines[1]}"
    run_den pod ps -q --no-trunc
    assert_output "$pid"
    run_den ps -a --format '{{.Names}} {{.Status}}'
    assert_output "${pid:0:12}-infra Created"

    den create --pod p1 --name m1 bb sleep 1000 >/dev/null
    run pod_line p1
    assert_output "p1 Created 2"
    run_den pod start p1
    assert_success
    assert_output "$pid"
    run pod_line p1
    assert_output "p1 Running 2"
    run_den pod ps --ctr-names --format '{{.Name}} {{.ContainerNames}}'
    assert_output "p1 ${pid:0:12}-infra,m1"
    run_den pod ps -f status=running -q
    assert_output "${pid:0:12}"
    run_den pod ps -f status=exited -q
    assert_output ""

    # A member that exits: the pod is Degraded.
    den run -d --pod p1 --name m2 bb sh -c 'exit 3' >/dev/null
    wait_for 10 '[[ $(den inspect -f "{{.State.Status}}" m2) == exited ]]'
    run pod_line p1
    assert_output "p1 Degraded 3"

    run_den pod stop -t 1 p1
    assert_success
    assert_output "$pid"
    run pod_line p1
    assert_output "p1 Exited 3"
    run_den ps -q
    assert_output ""

    run_den pod rm p1
    assert_success
    assert_output "$pid"
    run_den pod ps -q
    assert_output ""
    run_den ps -aq
    assert_output ""
    run_den pod exists p1
    assert_failure 1
    # The name is free again.
    den pod create --name p1 >/dev/null
    run_den pod exists p1
    assert_success
}

@test "pod members share the network: localhost between them, the pod's host name and etc files" {
    den pod create --name web --add-host db.example:10.9.8.7 --dns 9.9.9.9 >/dev/null
    den run -d --pod web --name srv bb sh -c 'mkdir -p /www && echo hello-from-srv >/www/index.html && exec httpd -f -p 8080 -h /www' >/dev/null
    wait_for 10 'den run --rm --pod web bb wget -qO- http://localhost:8080/ >/dev/null 2>&1'
    run_den run --rm --pod web bb wget -qO- http://127.0.0.1:8080/
    assert_success
    assert_output "hello-from-srv"
    # nc: a second pair of members. The listener's stdin stays open (-i):
    # busybox nc half-closes the connection at the end of its stdin, and the
    # client exits on that, before it sent anything, if /dev/null was first.
    den run -d -i --pod web --name listener bb nc -l -p 9090 >/dev/null
    wait_for 10 'den exec listener sh -c "netstat -ltn | grep -q :9090"'
    run_den run --rm --pod web bb sh -c 'echo over-localhost | nc 127.0.0.1 9090'
    wait_for 10 '[[ $(den logs listener) == over-localhost ]]'

    run_den run --rm --pod web bb hostname
    assert_output "web"
    run_den exec srv hostname
    assert_output "web"
    run_den run --rm --pod web --name peek bb sh -c 'grep -c db.example /etc/hosts; grep -w peek /etc/hosts | wc -l; cat /etc/resolv.conf'
    assert_equal "${lines[0]}" "1"
    assert_equal "${lines[1]}" "1"
    assert_output_contains "nameserver 9.9.9.9"
    # One network namespace: the members and the infra.
    local infra_pid srv_pid
    infra_pid=$(den inspect -f '{{.State.Pid}}' "$(den pod inspect -f '{{.InfraContainerID}}' web)")
    srv_pid=$(den inspect -f '{{.State.Pid}}' srv)
    run den unshare readlink /proc/$infra_pid/ns/net /proc/$infra_pid/ns/uts /proc/$infra_pid/ns/ipc
    local infra_ns=$output
    run den unshare readlink /proc/$srv_pid/ns/net /proc/$srv_pid/ns/uts /proc/$srv_pid/ns/ipc
    assert_equal "$output" "$infra_ns" "namespaces of srv and the infra"
    [[ $infra_ns == net:*uts:*ipc:* ]] || fail "$infra_ns"
}

@test "pod -p: a published port of the pod reaches a member's server from the host" {
    local port
    port=$(free_port)
    den pod create --name pub -p "127.0.0.1:$port:80" >/dev/null
    den run -d --pod pub --name srv bb sh -c 'mkdir -p /www && echo pod-port-ok >/www/index.html && exec httpd -f -p 80 -h /www' >/dev/null
    wait_for 15 'curl -fsS "http://127.0.0.1:$port/" >/dev/null 2>&1'
    run curl -fsS "http://127.0.0.1:$port/"
    assert_success
    assert_output "pod-port-ok"
    run_den pod inspect -f '{{json .InfraConfig.PortBindings}}' pub
    assert_output_contains "\"HostPort\":\"$port\""
}

@test "ps --pod, ps -f pod=, inspect .Pod, pod inspect JSON" {
    den pod create --name pa -l team=blue --hostname pa-host >/dev/null
    den pod create --name pb --infra=false >/dev/null
    local pa pb
    pa=$(den pod inspect -f '{{.Id}}' pa)
    pb=$(den pod inspect -f '{{.Id}}' pb)
    den create --pod pa --name a1 bb true >/dev/null
    den create --pod "${pb:0:8}" --name b1 bb true >/dev/null
    den create --name loose bb true >/dev/null

    run_den ps -a --pod --format '{{.Names}} {{.Pod}} {{.PodName}}'
    assert_success
    assert_line_matches "^a1 ${pa:0:12} pa$"
    assert_line_matches "^b1 ${pb:0:12} pb$"
    assert_line_matches "^loose  $"
    run_den ps -a --pod
    [[ ${lines[0]} =~ NAMES\ +POD\ ID\ +PODNAME$ ]] || fail "header: ${lines[0]}"
    run_den ps -a -f pod=pa --format '{{.Names}}'
    assert_output "a1
${pa:0:12}-infra"
    run_den ps -a -f "pod=${pb:0:12}" --format '{{.Names}}'
    assert_output "b1"
    run_den ps -a -f pod=nosuch -q
    assert_output ""

    run_den inspect -f '{{.Pod}}' a1
    assert_output "$pa"
    run_den inspect -f '{{.Config.Hostname}}' a1
    assert_output "pa-host"

    run_den pod inspect pa
    assert_success
    run python3 -c '
import json, sys
p = json.load(sys.stdin)[0]
print(p["Name"], p["State"], p["Hostname"], p["Labels"]["team"], p["NumContainers"], ",".join(p["SharedNamespaces"]), p["ExitPolicy"])
print(" ".join(c["Name"] + ":" + c["State"] for c in p["Containers"]))
print(len(p["Id"]), len(p["InfraContainerID"]), p["CreateInfra"])
' <<<"$output"
    assert_equal "${lines[0]}" "pa Created pa-host blue 2 ipc,net,uts continue"
    assert_equal "${lines[1]}" "${pa:0:12}-infra:created a1:created"
    assert_equal "${lines[2]}" "64 64 True"
    run_den pod inspect -f '{{.CreateInfra}} {{.NumContainers}} {{.InfraContainerID}}' pb
    assert_output "false 1 "
    # A pod without infra: members keep their own namespaces and flags.
    run_den run --rm --pod pb --hostname own bb hostname
    assert_output "own"
}

@test "pod bad input: one clear error, exit 125, nothing half made" {
    den pod create --name bad >/dev/null
    den run -d --pod bad --name up bb sleep 1000 >/dev/null
    local before
    before=$(den ps -aq --no-trunc | sort)

    run_den run --pod nosuch bb true
    assert_den_error "no such pod: nosuch"
    run_den pod start nosuch
    assert_den_error "no such pod: nosuch"
    run_den pod rm nosuch
    assert_den_error "no such pod: nosuch"
    run_den pod inspect nosuch
    assert_den_error "no such pod: nosuch"

    run_den run --pod bad -p 8080:80 bb true
    assert_den_error "published ports must be set on the pod"
    run_den create --pod bad --network none bb true
    assert_den_error "--network cannot be set on a container in pod bad"
    run_den create --pod bad --hostname h bb true
    assert_den_error "--hostname cannot be set on a container in pod bad"

    run_den pod create --name bad
    assert_den_error 'the pod name "bad" is already in use'
    run_den pod create --name 'b/ad'
    assert_den_error 'invalid pod name'
    run_den pod create --name ex --exit-policy sometimes
    assert_den_error 'invalid --exit-policy "sometimes"'
    run_den pod create --name sh --share net,cgroupx
    assert_den_error 'invalid --share "cgroupx"'
    run_den pod create --name np --infra=false -p 8080:80
    assert_den_error 'without infra container'
    run_den pod exists ex
    assert_failure 1
    run_den pod exists np
    assert_failure 1

    run_den pod rm bad
    assert_den_error "pod bad has running containers \\(.*up.*\\)"
    local infra
    infra=$(den pod inspect -f '{{.InfraContainerID}}' bad)
    run_den rm -f "$infra"
    assert_den_error "is the infra container of pod bad: remove the pod instead"
    run_den rm "${infra:0:12}"
    assert_den_error "is the infra container of pod bad"

    # Nothing was created or removed by the failures.
    [[ $(den ps -aq --no-trunc | sort) == "$before" ]]
    run pod_line bad
    assert_output "bad Running 2"
    assert_no_staging_leftovers
    run_den pod rm -f bad
    assert_success
    run_den ps -aq
    assert_output ""
}

@test "--exit-policy=stop: the infra stops when the last container exits" {
    den pod create --name once --exit-policy stop >/dev/null
    den run -d --pod once --name short bb sh -c 'sleep 1' >/dev/null
    den run -d --pod once --name shorter bb true >/dev/null
    run pod_line once
    [[ $output == "once Running 3" || $output == "once Degraded 3" ]] || fail "$output"
    wait_for 15 '[[ $(pod_line once) == "once Exited 3" ]]'
    run pod_line once
    assert_output "once Exited 3"
    # continue (the default) keeps the infra.
    den pod create --name keep >/dev/null
    den run --pod keep --name k1 bb true
    sleep 1
    run pod_line keep
    assert_output "keep Degraded 2"
}

@test "--infra-conmon-pidfile and --pod-id-file; pod start/stop/rm --pod-id-file, --ignore" {
    den pod create --name sd --infra-conmon-pidfile "$WORK/pod.pid" --pod-id-file "$WORK/pod.id" \
        --exit-policy stop >/dev/null
    local id
    id=$(den pod inspect -f '{{.Id}}' sd)
    [[ $(cat "$WORK/pod.id") == "$id" ]]
    [[ ! -e $WORK/pod.pid ]]
    run_den pod start --pod-id-file "$WORK/pod.id"
    assert_output "$id"
    local mon
    mon=$(cat "$WORK/pod.pid")
    [[ $(cat /proc/$mon/comm) == den-monitor ]]
    [[ $(den pod inspect -f '{{.InfraConfig.ConmonPid}}' sd) == "$mon" ]]
    den create --pod-id-file "$WORK/pod.id" --name inner bb sleep 1000 >/dev/null
    run_den pod stop -t 1 --pod-id-file "$WORK/pod.id"
    assert_output "$id"
    wait_for 10 '! kill -0 $mon 2>/dev/null'
    # Each start writes the new monitor's pid.
    den pod start sd >/dev/null
    [[ $(cat "$WORK/pod.pid") != "$mon" ]]
    [[ $(cat /proc/$(cat "$WORK/pod.pid")/comm) == den-monitor ]]
    # An existing ID file is refused (podman), before anything is made.
    run_den pod create --name sd2 --pod-id-file "$WORK/pod.id"
    assert_den_error "the file exists"
    run_den pod exists sd2
    assert_failure 1

    run_den pod rm -f --pod-id-file "$WORK/pod.id"
    assert_output "$id"
    run_den ps -aq
    assert_output ""
    run_den pod stop --ignore --pod-id-file "$WORK/pod.id"
    assert_success
    assert_output ""
    run_den pod rm --ignore -f --pod-id-file "$WORK/pod.id" --pod-id-file "$WORK/none.id"
    assert_success
    run_den pod rm -f --pod-id-file "$WORK/none.id"
    assert_den_error "--pod-id-file .*none.id: no such file"
}

@test "pod start under NOTIFY_SOCKET: den sends MAINPID (the infra's monitor) and READY=1, containers send nothing" {
    notify_listener "$WORK/notify.sock" "$WORK/notify.out"
    den pod create --name nt >/dev/null
    den create --pod nt --name n1 bb sleep 1000 >/dev/null
    den create --pod nt --name n2 --sdnotify=conmon bb sleep 1000 >/dev/null
    NOTIFY_SOCKET=$WORK/notify.sock den pod start nt >/dev/null
    wait_for 10 'grep -q READY=1 "$WORK/notify.out"'
    sleep 1
    local infra mon
    infra=$(den pod inspect -f '{{.InfraContainerID}}' nt)
    mon=$(den pod inspect -f '{{.InfraConfig.ConmonPid}}' nt)
    run cat "$WORK/notify.out"
    assert_output "MAINPID=$mon
READY=1
---"
    [[ $(cat /proc/$mon/comm) == den-monitor ]]
    run pod_line nt
    assert_output "nt Running 3"
}

@test "pod events: create, start, stop, remove" {
    den pod create --name ev >/dev/null
    den pod start ev >/dev/null
    den pod stop ev >/dev/null
    den pod rm ev >/dev/null
    run_den events --stream=false -f type=pod --format '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}'
    assert_output "pod create ev
pod start ev
pod stop ev
pod remove ev"
}

@test "SIGKILL during pod create or rm: pod rm -f repairs, system check is clean" {
    # A den killed between the pod record and its infra (simulated: the infra
    # container's directory is gone).
    den pod create --name half >/dev/null
    local infra
    infra=$(den pod inspect -f '{{.InfraContainerID}}' half)
    den unshare rm -rf "$GRAPHROOT/containers/$infra"
    run_den system check
    assert_failure 1
    assert_output_contains "pod half"
    assert_output_contains "infra container ${infra:0:12} is gone"
    run_den pod start half
    assert_den_error "the infra container of pod half is gone"
    run_den pod ps --format '{{.Name}} {{.Status}} {{.NumberOfContainers}}'
    assert_output "half Created 0"
    run_den pod rm -f half
    assert_success
    run_den system check
    assert_success
    assert_output OK

    # Real kills at several points of pod create.
    local d
    for d in 0.005 0.02 0.05 0.1 0.2; do
        "$DEN" pod create --name "k$d" >/dev/null 2>&1 &
        sleep "$d"
        kill -9 $! 2>/dev/null || true
        wait $! 2>/dev/null || true
    done
    den pod rm -f --ignore k0.005 k0.02 k0.05 k0.1 k0.2 >/dev/null
    run_den pod ps -q
    assert_output ""
    run_den ps -aq
    assert_output ""
    # A name reserved by a killed create names no container: check may
    # list it, and --repair (or the next create of that name) frees it.
    run_den system check --repair
    assert_success
    run_den system check
    assert_success
    assert_output OK

    # A member whose pod is gone (killed pod rm between removing the record
    # and ... simulated by removing the record).
    den pod create --name gone >/dev/null
    den create --pod gone --name orphan bb true >/dev/null
    local gid
    gid=$(den pod inspect -f '{{.Id}}' gone)
    rm -rf "$GRAPHROOT/pods/$gid"
    run_den system check
    assert_failure 1
    assert_output_contains "container orphan"
    assert_output_contains "its pod ${gid:0:12} is gone"
    run_den rm -f orphan "${gid:0:12}-infra"
    assert_success
    run_den system check --repair
    assert_success
    run_den system check
    assert_output OK
}
