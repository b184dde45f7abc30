#!/usr/bin/env bats
# Rootless networking, continued: network rm [-f], helpers that die with a
# killed monitor (slirp4netns, pasta, den-netns), ping and den info's
# PingWarning, published ports and outbound traffic on user networks, bad
# input. Traffic stays on the host (loopback or its own address) and the
# containers' namespaces.

load helpers

local_setup() {
    import_busybox bb >/dev/null
}

local_teardown() {
    [[ -z ${HTTPD_PID:-} ]] || kill "$HTTPD_PID" 2>/dev/null || true
}

# The host's own (non-loopback) IPv4 address, or nothing.
host_ip() {
    ip -4 -o route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p'
}

# gone PID : the process has exited (a zombie counts as gone).
gone() {
    local st
    st=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
    [[ -z $st || $st == Z* ]]
}

# wait_gone PID : up to 5 s.
wait_gone() {
    local i
    for i in $(seq 1 50); do
        gone "$1" && return 0
        sleep 0.1
    done
    return 1
}

# The pids of our processes whose command line contains $1.
pids_with() {
    ps -u "$(id -u)" -o pid=,args= | awk -v k="$1" 'index($0, k) && !/awk/ {print $1}'
}

monitor_of() {
    local pid
    pid=$(den inspect -f '{{.State.Pid}}' "$1")
    ps -o ppid= -p "$pid" | tr -d ' '
}

WEB_CMD='mkdir -p /www/cgi-bin && echo "hello from $(hostname)" >/www/index.html &&
printf "#!/bin/sh\necho Content-Type: text/plain\necho\necho \$REMOTE_ADDR\n" >/www/cgi-bin/addr &&
chmod +x /www/cgi-bin/addr && exec httpd -f -p 80 -h /www'

@test "network rm of a network in use names every container; rm -f removes them (running ones stopped)" {
    run_den network create usednet
    assert_success
    run_den run -d --network usednet --name u1 bb sleep 100
    assert_success
    run_den create --network usednet --name u2 bb true
    assert_success
    run_den network rm usednet
    assert_den_error "network usednet is in use by containers u1, u2"
    assert_stderr_contains "den network rm -f usednet"
    run_den ps -a --format '{{.Names}}'
    assert_line_count 2
    # docker: -f of a network that does not exist is no error.
    run_den network rm -f nosuchnet
    assert_success
    run_den network rm nosuchnet
    assert_den_error "network nosuchnet not found"
    run_den network rm -t x -f usednet
    assert_den_error "invalid --time"
    # podman: -f stops and removes the containers, then the network.
    run_den network rm -f -t 0 usednet
    assert_success
    assert_output "usednet"
    run_den ps -aq
    assert_output ""
    run_den network ls -q
    assert_output ""
    run_den system check
    assert_success
    assert_output OK
}

@test "SIGKILL of the monitor: slirp4netns, pasta and den-netns do not outlive the container" {
    local modes=(slirp4netns netnet)
    command -v pasta >/dev/null && modes+=(pasta)
    run_den network create netnet
    assert_success
    local mode ctr mon id helper
    for mode in "${modes[@]}"; do
        run_den run -d --name victim --network "$mode" bb sleep 100
        assert_success
        id=$output
        ctr=$(den inspect -f '{{.State.Pid}}' victim)
        mon=$(monitor_of victim)
        case $mode in
            # The monitor's slirp4netns (it gets the namespace as its fd 5).
            slirp4netns) helper=$(ps -o pid=,comm= --ppid "$mon" | awk '$2 == "slirp4netns" {print $1}') ;;
            pasta) helper=$(pids_with "/c/${id:0:12}/pasta.pid") ;;
            netnet) helper=$(cut -d' ' -f1 "$RUNROOT/netns/holder.pid") ;;
        esac
        [[ -n $helper ]] || fail "$mode: no helper process found"
        gone "$helper" && fail "$mode: helper $helper not running"
        kill -9 "$mon"
        # It goes by itself (exit fd, den-netwatch, or the idle holder).
        wait_gone "$helper" || fail "$mode: helper $helper still runs after the monitor was killed"
        wait_gone "$ctr" || fail "$mode: container process $ctr still runs"
        run_den ps -a --format '{{.Names}} {{.State}}'
        assert_output "victim exited"
        run_den rm victim
        assert_success
        run_den system check
        assert_success
        assert_output OK
    done
    # No watcher is left either.
    run bash -c "ps -u $(id -u) -o stat=,comm= | awk '\$1 !~ /^Z/ && \$2 == \"den-netwatch\"' | wc -l"
    assert_output "0"
}

@test "system check --repair beside running networked containers: their helpers and ports stay" {
    local modes=(slirp4netns netnet)
    command -v pasta >/dev/null && modes+=(pasta)
    run_den network create netnet
    assert_success
    local mode port before
    declare -A ports
    for mode in "${modes[@]}"; do
        port=$(free_port)
        ports[$mode]=$port
        run_den run -d --name "web-$mode" -h "host-$mode" --network "$mode" -p "127.0.0.1:$port:80" \
            bb sh -c "$WEB_CMD"
        assert_success
    done
    # A health check and an exec running: forks of the monitor, also helpers.
    run_den run -d --name healthy --health-cmd true --health-interval 1s -p "127.0.0.1:$(free_port):80" bb sleep 1000
    assert_success
    for mode in "${modes[@]}"; do
        run fetch "http://127.0.0.1:${ports[$mode]}/"
        assert_output "hello from host-$mode"
    done
    den exec healthy sleep 8 &
    local exec_pid=$!
    # Older than the check's grace period for processes just started.
    sleep 3.5
    before=$(ps -u "$(id -u)" -o pid=,comm= | awk '$2 ~ /^(slirp4netns|pasta|passt|den-netwatch|den-netns)/ {print $1}')
    [[ $(wc -l <<<"$before") -ge 3 ]] || fail "too few helpers: $before"
    run_den system check
    assert_success
    assert_output OK
    run_den system check --repair
    assert_success
    assert_output OK
    local p
    for p in $before; do
        gone "$p" && fail "helper $p was killed by system check --repair"
    done
    # The network still works: a real request through each published port,
    # and the slirp4netns container's tap0 is there.
    for mode in "${modes[@]}"; do
        run fetch "http://127.0.0.1:${ports[$mode]}/"
        assert_success
        assert_output "hello from host-$mode"
    done
    run_den exec web-slirp4netns ip -o link show tap0
    assert_success
    assert_output_contains "tap0"
    wait "$exec_pid"
    run_den inspect -f '{{.State.Health.Status}}' healthy
    assert_output healthy
    run_den ps --format '{{.Names}} {{.State}}' --filter status=running
    assert_line_count $(( ${#modes[@]} + 1 ))
}

@test "den info says when net.ipv4.ping_group_range excludes the user's group" {
    local lo hi gid
    read -r lo hi </proc/sys/net/ipv4/ping_group_range
    gid=$(id -g)
    run_den info --format '{{if .Host.PingWarning}}{{.Host.PingWarning}}{{end}}'
    assert_success
    if ((gid >= lo && gid <= hi)); then
        assert_output ""
    else
        assert_output_contains "net.ipv4.ping_group_range is \"$lo $hi\", which excludes gid $gid"
    fi
    run_den system check --host
    assert_line_matches '^(ok|warn) +ping_group_range: '
}

@test "ping from containers: the gateway always; the host's address when ping_group_range allows it" {
    run_den network create pingnet
    assert_success
    run_den run -d --network pingnet --name target bb sleep 100
    assert_success
    # Answered by slirp4netns itself: no ICMP socket on the host.
    run_den run --rm bb ping -c1 -W3 10.0.2.2
    assert_success
    assert_output_contains "1 packets received"
    # On a user network: through the namespace's slirp4netns, and another
    # container by name (a raw socket in the container's own namespace).
    run_den run --rm --network pingnet bb sh -c 'ping -c1 -W3 10.0.2.2 && ping -c1 -W3 target'
    assert_success
    assert_output_not_contains " 0 packets received"

    local lo hi gid hip
    read -r lo hi </proc/sys/net/ipv4/ping_group_range
    gid=$(id -g)
    ((gid >= lo && gid <= hi)) || skip "net.ipv4.ping_group_range ($lo $hi) excludes gid $gid (tests/setup allows all)"
    hip=$(host_ip)
    [[ -n $hip ]] || skip "the host has no non-loopback IPv4 address"
    run_den run --rm bb ping -c1 -W3 "$hip"
    assert_success
    assert_output_contains "1 packets received"
    run_den run --rm --network pingnet bb ping -c1 -W3 "$hip"
    assert_success
    assert_output_contains "1 packets received"
}

@test "-p on a user network: served to the host, den port, source address; freed when it stops" {
    local port
    port=$(free_port)
    run_den network create --subnet 10.89.21.0/24 webnet
    assert_success
    run_den run -d --network webnet --name web -h webhost -p "127.0.0.1:$port:80" bb sh -c "$WEB_CMD"
    assert_success
    run fetch "http://127.0.0.1:$port/"
    assert_success
    assert_output "hello from webhost"
    run_den port web
    assert_output "80/tcp -> 127.0.0.1:$port"
    run_den ps --format '{{.Ports}}'
    assert_output "127.0.0.1:$port->80/tcp"
    # The client on the host's loopback shows up as the host (slirp4netns).
    run fetch "http://127.0.0.1:$port/cgi-bin/addr"
    [[ $output == 10.0.2.2 || $output == "[::ffff:10.0.2.2]" ]] || fail "source seen as $output"
    # Another container on the network still reaches it by name.
    run_den run --rm --network webnet bb wget -qO- http://web/
    assert_output "hello from webhost"
    # A second network's container keeps the namespace: the port must still go.
    run_den run -d --network webnet --name keeper bb sleep 100
    assert_success
    run_den stop -t 1 web
    assert_success
    run curl -sS --max-time 2 "http://127.0.0.1:$port/"
    assert_failure
    # (SO_REUSEADDR, as servers do: the fetches left TIME_WAIT behind.)
    python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()' "$port" ||
        fail "host port $port still bound after the container stopped"
    # It starts again on the same port.
    run_den start web
    assert_success
    run fetch "http://127.0.0.1:$port/"
    assert_output "hello from webhost"
    # A killed monitor leaves a forward behind: the next start replaces it.
    kill -9 "$(monitor_of web)"
    sleep 0.5
    run_den start web
    assert_success
    run fetch "http://127.0.0.1:$port/"
    assert_output "hello from webhost"
    run_den rm -f web keeper
    assert_success
    run_den system check
    assert_success
}

@test "user network: outbound to the host (host.den.internal); --internal has no way out" {
    local hip port
    hip=$(host_ip)
    [[ -n $hip ]] || skip "the host has no non-loopback IPv4 address"
    port=$(free_port)
    mkdir -p "$WORK/www"
    echo "from the host" >"$WORK/www/index.html"
    busybox httpd -f -p "$hip:$port" -h "$WORK/www" &
    HTTPD_PID=$!
    run_den network create outnet
    assert_success
    run_den run --rm --network outnet bb sh -c "grep host.den.internal /etc/hosts; wget -qO- http://host.den.internal:$port/"
    assert_success
    assert_line_matches "^$hip\s+host\.den\.internal host\.containers\.internal$"
    assert_output_contains "from the host"
    run_den network create --internal innet
    assert_success
    run_den run --rm --network innet bb sh -c "ip route; echo ---; nc -w 2 $hip $port </dev/null && echo reached"
    assert_output_not_contains "default"
    assert_output_not_contains "reached"
    run_den system check
    assert_success
}

@test "bad input on user networks: one clear error, exit 125, nothing left" {
    run_den network create --subnet 10.89.30.0/24 n1
    assert_success
    run_den network create --subnet 10.89.30.0/23 n2
    assert_den_error "overlaps with network n1"
    run_den network create --subnet 10.89.0.0/16 n3
    assert_den_error "overlaps with network n1"
    local spec
    for spec in 99999:80 a:b; do
        run_den run --rm --network n1 -p "$spec" bb true
        assert_den_error "invalid port \"$spec\""
    done
    run_den run --rm --network nosuchnet bb true
    assert_den_error "network nosuchnet not found"
    # A host port in use: refused when the container is created...
    local port
    port=$(free_port)
    python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
    local lpid=$!
    sleep 0.5
    run_den run -d --network n1 -p "127.0.0.1:$port:80" bb sleep 10
    assert_den_error "already in use"
    # ... and when it starts.
    kill $lpid
    wait $lpid 2>/dev/null || true
    run_den create --network n1 --name late -p "127.0.0.1:$port:80" bb sleep 100
    assert_success
    python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
    lpid=$!
    sleep 0.5
    run_den start late
    kill $lpid
    assert_den_error "already in use"
    run_den inspect -f '{{.State.Status}}' late
    assert_output "exited"
    run_den network rm n1
    assert_den_error "in use by container late"
    run_den rm late
    assert_success
    run_den network rm n1
    assert_success
    run_den ps -aq
    assert_output ""
    run_den system check
    assert_success
    assert_output OK
}
