#!/usr/bin/env bats
# Rootless networking: published ports (-p in every form, -P), den port, ps
# PORTS, inspect; the client's source address; --network none|host|
# container:X|pasta; /etc/hosts and resolv.conf flags; bad input.
# All traffic stays on 127.0.0.0/8 and the containers' own namespaces.

load helpers

local_setup() {
    import_busybox bb >/dev/null
}

# A web server in a container: serves "hello from den" at / and the client's
# address at /cgi-bin/addr.
WEB_CMD='mkdir -p /www/cgi-bin && echo "hello from den" >/www/index.html &&
printf "#!/bin/sh\necho Content-Type: text/plain\necho\necho \$REMOTE_ADDR\n" >/www/cgi-bin/addr &&
chmod +x /www/cgi-bin/addr && exec httpd -f -p 80 -h /www'

@test "-p HOSTPORT:PORT: served to the host; den port, ps PORTS, inspect" {
    local port
    port=$(free_port)
    run_den run -d --name web -p "$port:80" bb sh -c "$WEB_CMD"
    assert_success
    run fetch "http://127.0.0.1:$port/"
    assert_success
    assert_output "hello from den"
    run_den port web
    assert_success
    assert_output "80/tcp -> 0.0.0.0:$port"
    run_den port web 80
    assert_output "0.0.0.0:$port"
    run_den ps --format '{{.Names}} {{.Ports}}'
    assert_output "web 0.0.0.0:$port->80/tcp"
    run_den inspect -f '{{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}' web
    assert_output "$port"
    run_den inspect -f '{{(index (index .HostConfig.PortBindings "80/tcp") 0).HostPort}}' web
    assert_output "$port"
    run_den inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' web
    assert_output "10.0.2.100"
    # The port is released when the container stops.
    run_den stop -t 1 web
    assert_success
    run_den run -d --name web2 -p "$port:80" bb sh -c "$WEB_CMD"
    assert_success
    run fetch "http://127.0.0.1:$port/"
    assert_output "hello from den"
}

@test "-p IP:HOSTPORT:PORT and IP::PORT (random host port shown by den port)" {
    local port
    port=$(free_port)
    run_den run -d --name a -p "127.0.0.1:$port:80" bb sh -c "$WEB_CMD"
    assert_success
    run fetch "http://127.0.0.1:$port/"
    assert_output "hello from den"
    run_den port a
    assert_output "80/tcp -> 127.0.0.1:$port"

    run_den run -d --name b -p 127.0.0.1::80 bb sh -c "$WEB_CMD"
    assert_success
    run_den port b 80/tcp
    assert_success
    [[ $output =~ ^127\.0\.0\.1:([0-9]+)$ ]] || fail "unexpected: $output"
    local rport=${BASH_REMATCH[1]}
    [[ $rport != 0 ]]
    run fetch "http://127.0.0.1:$rport/"
    assert_output "hello from den"
}

@test "-p with a port range" {
    local base
    base=$(( 30000 + RANDOM % 20000 ))
    run_den run -d --name r -p "127.0.0.1:$base-$((base + 2)):8000-8002" bb sh -c \
        'for p in 8000 8001 8002; do mkdir -p /w$p; echo "port $p" >/w$p/index.html; httpd -p $p -h /w$p; done; sleep 1000'
    assert_success
    run fetch "http://127.0.0.1:$((base + 2))/"
    assert_output "port 8002"
    run fetch "http://127.0.0.1:$base/"
    assert_output "port 8000"
    run_den port r
    assert_line_count 3
    assert_output_contains "8001/tcp -> 127.0.0.1:$((base + 1))"
    run_den ps --format '{{.Ports}}'
    assert_output "127.0.0.1:$base-$((base + 2))->8000-8002/tcp"
}

@test "-p PORT/udp: datagrams reach the container and come back" {
    local port
    port=$(free_port)
    # busybox has no UDP server: a static one, built here, in a test image.
    command -v cc >/dev/null || skip "no C compiler for the UDP echo server"
    local root=$BATS_TEST_TMPDIR/udproot
    cp -a "$(busybox_rootfs)" "$root"
    cc -static -O2 -o "$root/bin/udp-echo" "$BATS_TEST_DIRNAME/udp-echo.c"
    make_rootfs_tar "$BATS_TEST_TMPDIR/udp.tar" "$root"
    den import "$BATS_TEST_TMPDIR/udp.tar" udpimg >/dev/null
    # slirp4netns sends UDP replies to a client on the host's loopback as
    # traffic to the host's loopback (10.0.2.2): that needs allow_host_loopback.
    run_den run -d --name u --network slirp4netns:allow_host_loopback=true -p "127.0.0.1:$port:9999/udp" \
        udpimg /bin/udp-echo 9999
    assert_success
    run_den port u
    assert_output "9999/udp -> 127.0.0.1:$port"
    run python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
for i in range(50):
    s.sendto(b"ping-udp", ("127.0.0.1", int(sys.argv[1])))
    try:
        print(s.recvfrom(100)[0].decode()); break
    except socket.timeout:
        pass
' "$port"
    assert_success
    assert_output "ping-udp"
}

@test "-P publishes the image's EXPOSE ports on random host ports" {
    run_den import -c 'EXPOSE 80' -c 'CMD ["/bin/sh"]' "$(busybox_tar)" web
    assert_success
    run_den run -d --name p -P web sh -c "$WEB_CMD"
    assert_success
    run_den port p
    [[ $output =~ ^80/tcp\ -\>\ 0\.0\.0\.0:([0-9]+)$ ]] || fail "unexpected: $output"
    run fetch "http://127.0.0.1:${BASH_REMATCH[1]}/"
    assert_output "hello from den"
    run_den inspect -f '{{json .Config.ExposedPorts}}' p
    assert_output '{"80/tcp":{}}'
}

@test "published port: the container sees the client's address, not a proxy's" {
    local port
    port=$(free_port)
    run_den run -d --name s -p "127.0.0.1:$port:80" bb sh -c "$WEB_CMD"
    assert_success
    run fetch "http://127.0.0.1:$port/cgi-bin/addr"
    assert_success
    # A client on the host's loopback is the host (10.0.2.2) to slirp4netns;
    # a proxy in the namespace would show 127.0.0.1 or the container's own
    # 10.0.2.100. (httpd listens on IPv6 too: v4-mapped.)
    [[ $output == 10.0.2.2 || $output == "[::ffff:10.0.2.2]" ]] || fail "source seen as $output"
}

@test "pasta: --network pasta with a published port; den.conf selects it as the default" {
    command -v pasta >/dev/null || skip "pasta (passt) not installed"
    local port
    port=$(free_port)
    run_den run -d --name pa --network pasta -p "127.0.0.1:$port:80" bb sh -c "$WEB_CMD"
    assert_success
    run fetch "http://127.0.0.1:$port/"
    assert_output "hello from den"
    run_den inspect -f '{{.HostConfig.NetworkMode}}' pa
    assert_output "pasta"
    run_den run --rm --network pasta bb ip -o link show
    assert_success
    assert_output_contains "lo:"
    run_den rm -f pa
    assert_success
    # No pasta left behind for it.
    run_den system check
    assert_success

    mkdir -p "$XDG_CONFIG_HOME/den"
    printf '[network]\ndefault_rootless_network_cmd = "pasta"\n' >"$XDG_CONFIG_HOME/den/den.conf"
    run_den create --name dflt bb true
    assert_success
    run_den inspect -f '{{.HostConfig.NetworkMode}}' dflt
    assert_output "pasta"
    run_den info --format '{{.Host.NetworkBackend}}'
    assert_output "pasta"
}

@test "--network none has only lo; host sees the host's; container:X shares X's" {
    run_den run --rm --network none bb sh -c 'ls /sys/class/net'
    assert_success
    assert_output "lo"
    run_den run --rm --network host bb sh -c 'ls /sys/class/net | sort | tr "\n" " "'
    assert_success
    assert_equal "$output" "$(ls /sys/class/net | sort | tr '\n' ' ')"
    run_den run -d --name x bb sleep 100
    assert_success
    run_den run --rm bb sh -c 'ls /sys/class/net | sort | tr "\n" " "'
    assert_output "lo tap0 "
    run_den exec x sh -c 'ip -o -4 addr show tap0'
    assert_output_contains "10.0.2.100"
    run_den run --rm --network container:x bb sh -c 'ip -o -4 addr show tap0'
    assert_success
    assert_output_contains "10.0.2.100"
}

@test "--add-host, --dns, --dns-search, --dns-option, host.den.internal, --hostname" {
    run_den run --rm -h box --name hn --add-host db.local:10.1.2.3 --add-host gw:host-gateway \
        --network slirp4netns:allow_host_loopback=true --dns 1.1.1.1 --dns-search example.com \
        --dns-option ndots:2 bb sh -c 'cat /etc/hosts; echo ---; cat /etc/resolv.conf'
    assert_success
    assert_line_matches '^10\.1\.2\.3\s+db\.local$'
    assert_line_matches '^10\.0\.2\.2\s+gw$'
    assert_line_matches '^10\.0\.2\.100\s+box hn$'
    assert_line_matches '^10\.0\.2\.2\s+host\.den\.internal host\.containers\.internal$'
    assert_line_matches '^nameserver 1\.1\.1\.1$'
    assert_line_matches '^search example\.com$'
    assert_line_matches '^options ndots:2$'
    run_den run --rm bb cat /etc/resolv.conf
    assert_line_matches '^nameserver 10\.0\.2\.3$'
}

@test "host.den.internal reaches the host's loopback with allow_host_loopback=true" {
    local port
    port=$(free_port)
    mkdir -p "$WORK/www"
    echo "from the host" >"$WORK/www/index.html"
    busybox httpd -f -p "127.0.0.1:$port" -h "$WORK/www" &
    local hpid=$!
    run_den run --rm --network slirp4netns:allow_host_loopback=true bb \
        wget -qO- "http://host.den.internal:$port/"
    kill $hpid
    assert_success
    assert_output "from the host"
}

@test "bad -p specs, ports in use and below ip_unprivileged_port_start: one clear error, nothing left" {
    local port spec
    for spec in 99999:80 a:b 80:0 1-3:1-2 8080:80/sctp 1.2.3:8080:80; do
        run_den run --rm -p "$spec" bb true
        assert_den_error "invalid port \"$spec\""
    done
    local start
    start=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)
    if (( start > 80 )); then
        run_den run --rm -p 80:80 bb true
        assert_den_error "net.ipv4.ip_unprivileged_port_start"
    fi
    port=$(free_port)
    python3 -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
    local lpid=$!
    sleep 0.5
    run_den run -d -p "127.0.0.1:$port:80" bb sleep 10
    assert_den_error "already in use"
    run_den run -d -p "$port:80" bb sleep 10
    assert_den_error "already in use"
    kill $lpid
    run_den run --rm --network nosuchnet bb true
    assert_den_error "network nosuchnet not found"
    run_den run --rm --network none -p 8080:80 bb true
    assert_den_error "conflicting options"
    run_den run --rm --network slirp4netns:bogus=1 bb true
    assert_den_error "unsupported slirp4netns option"
    run_den run --rm --add-host nocolon bb true
    assert_den_error "invalid --add-host"
    run_den run --rm --dns notanip bb true
    assert_den_error "invalid --dns"
    run_den ps -aq
    assert_output ""
    run_den system check
    assert_success
}

@test "den start fails cleanly when the published port was taken meanwhile" {
    local port
    port=$(free_port)
    run_den create --name late -p "127.0.0.1:$port:80" bb sleep 100
    assert_success
    python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' "$port" &
    local lpid=$!
    sleep 0.5
    run_den start late
    kill $lpid
    assert_den_error "already in use"
    run_den inspect -f '{{.State.Status}}' late
    assert_output "exited"
    run_den system check
    assert_success
    # And it starts once the port is free.
    run_den start late
    assert_success
}
