#!/usr/bin/env bats
# User networks: network create/ls/inspect/rm/prune/connect/disconnect, the
# shared rootless network namespace, names and aliases, --internal, and its
# teardown when the last container stops. All traffic stays in the
# containers' own namespaces.

load helpers

local_setup() {
    import_busybox bb >/dev/null
}

# The pid of the rootless network namespace's holder, or nothing.
holder_pid() {
    local f=$RUNROOT/netns/holder.pid
    [[ -s $f ]] || return 0
    local pid
    pid=$(cut -d' ' -f1 "$f")
    kill -0 "$pid" 2>/dev/null && echo "$pid"
    return 0
}

@test "network create, ls, inspect, rm; overlapping subnets and bad input are refused" {
    run_den network create --subnet 10.89.7.0/24 --label team=a appnet
    assert_success
    [[ $output =~ ^[0-9a-f]{64}$ ]] || fail "expected an ID, got $output"
    local id=$output
    run_den network ls
    assert_success
    assert_line_matches "^NETWORK ID +NAME +DRIVER +SCOPE$"
    assert_line_matches "^${id:0:12} +appnet +bridge +local$"
    run_den network ls -q
    assert_output "${id:0:12}"
    run_den network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{.Internal}} {{.Labels.team}}' appnet
    assert_output "10.89.7.0/24 10.89.7.1 false a"
    run_den network create appnet
    assert_den_error "network appnet already exists"
    run_den network create --subnet 10.89.7.128/25 other
    assert_den_error "overlaps with network appnet"
    run_den network create --subnet 10.89.300.0/24 bad
    assert_den_error "invalid --subnet"
    run_den network create -d macvlan mv
    assert_den_error "unsupported network driver"
    run_den network create none
    assert_den_error "reserved"
    run_den network create auto
    assert_success
    run_den network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' auto
    assert_output "10.89.0.0/24"
    run_den network rm appnet auto
    assert_success
    run_den network inspect appnet
    assert_den_error "network appnet not found"
    run_den network ls -q
    assert_output ""
}

@test "two containers on a user network reach each other by name and alias; the namespace goes with the last" {
    run_den network create --subnet 10.89.9.0/24 appnet
    assert_success
    run_den run -d --network appnet --name db --network-alias database bb \
        sh -c 'mkdir -p /w && echo "db here" >/w/index.html && exec httpd -f -p 80 -h /w'
    assert_success
    [[ -n $(holder_pid) ]] || fail "no rootless network namespace holder"
    run_den inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' db
    assert_output "10.89.9.2"
    run_den run --rm --network appnet bb sh -c 'wget -qO- http://db/ && wget -qO- http://database/ && nslookup db | grep -A1 "Name:"'
    assert_success
    [[ ${lines[0]} == "db here" && ${lines[1]} == "db here" ]] || fail "expected the page twice"
    assert_output_contains "10.89.9.2"
    run_den run --rm --network appnet --link db:mydb bb sh -c 'grep mydb /etc/hosts; ip -o -4 addr show eth0; ip route'
    assert_success
    assert_line_matches '^10\.89\.9\.2\s+mydb db$'
    assert_output_contains "10.89.9.3/24"
    assert_output_contains "default via 10.89.9.1"
    run_den network inspect -f '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}' appnet
    assert_output "db 10.89.9.2/24"
    # In use: not removable.
    run_den network rm appnet
    assert_den_error "in use by container db"
    # The last container stops: the namespace and its helpers go.
    local hp
    hp=$(holder_pid)
    run_den rm -f db
    assert_success
    local i
    for i in $(seq 1 50); do kill -0 "$hp" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$hp" 2>/dev/null && fail "den-netns $hp still running"
    run_den network rm appnet
    assert_success
    run_den system check
    assert_success
}

@test "network connect and disconnect: names stop resolving after disconnect" {
    run_den network create n1
    assert_success
    run_den network create n2
    assert_success
    run_den run -d --network n1 --name a bb sleep 100
    assert_success
    run_den run -d --network n2 --name b bb sleep 100
    assert_success
    run_den exec b nslookup a
    assert_failure
    run_den network connect --alias aa n2 a
    assert_success
    run_den exec a sh -c 'ls /sys/class/net | sort | tr "\n" " "'
    assert_output "eth0 eth1 lo "
    run_den exec b nslookup aa
    assert_success
    run_den exec b ping -c1 -W2 a
    assert_success
    run_den network disconnect n2 a
    assert_success
    run_den exec b nslookup a
    assert_failure
    run_den exec a sh -c 'ls /sys/class/net | sort | tr "\n" " "'
    assert_output "eth0 lo "
    run_den network connect n2 nosuch
    assert_den_error "no such container"
    run_den network connect nosuchnet a
    assert_den_error "network nosuchnet not found"
}

@test "--internal network: no outbound route, names still resolve" {
    run_den network create --internal inet
    assert_success
    run_den run -d --network inet --name srv bb sleep 100
    assert_success
    run_den run --rm --network inet bb sh -c 'ip route; echo ---; nslookup srv >/dev/null && echo resolved'
    assert_success
    assert_output_not_contains "default"
    assert_output_contains "resolved"
    # A normal network has the way out.
    run_den network create outnet
    run_den run --rm --network outnet bb ip route
    assert_output_contains "default via"
}

@test "network prune removes unused networks only" {
    run_den network create used
    run_den network create unused
    run_den create --network used --name c bb true
    assert_success
    run_den network prune -f
    assert_success
    assert_output_contains "unused"
    run_den network ls --format '{{.Name}}'
    assert_output "used"
}
