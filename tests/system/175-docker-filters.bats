#!/usr/bin/env bats
# docker's list filters and tables, checked by exact output with real
# containers: ps --filter publish/expose/volume/health, volume ls and
# network ls (filters, tables, -q, --no-trunc, .Label), stats --no-stream,
# and archive outputs (-o) that leave no file when they fail.

load helpers

local_setup() {
    import_busybox bb >/dev/null
}

# Two free consecutive host ports: prints the first.
free_port_pair() {
    python3 -c '
import socket
for _ in range(50):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1)); print(p); break
    except OSError:
        pass
'
}

# ps_names FILTER... : the names ps -a lists with these filters, one line.
ps_names() {
    local args=() f
    for f in "$@"; do args+=(--filter "$f"); done
    den ps -a "${args[@]}" --format '{{.Names}}' | sort | tr '\n' ' ' | sed 's/ $//'
}

# ---------------------------------------------------------------------------
# ps --filter

@test "ps --filter publish= and expose=: ports, ranges, protocols, running containers only" {
    local web udp
    web=$(free_port)
    udp=$(free_port_pair)
    den run -d --name web -p "127.0.0.1:$web:80" --expose 9000 bb sleep 1000 >/dev/null
    den run -d --name dns -p "$udp-$((udp + 1)):5300-5301/udp" bb sleep 1000 >/dev/null
    den create --name stopped -p "$(free_port):80" bb true >/dev/null

    run_den ps --filter "publish=$web" --format '{{.Names}}'
    assert_success
    assert_output "web"
    run_den ps --filter "publish=$web/tcp" --format '{{.Names}}'
    assert_output "web"
    run_den ps --filter "publish=$web/udp" --format '{{.Names}}'
    assert_output ""
    # The container port is not published on the host.
    run_den ps --filter "publish=80" --format '{{.Names}}'
    assert_output ""
    run_den ps --filter "publish=$((udp + 1))/udp" --format '{{.Names}}'
    assert_output "dns"
    run_den ps --filter "publish=$((udp + 1))" --format '{{.Names}}'
    assert_output ""
    run_den ps --filter "publish=$udp-$((udp + 5))/udp" --format '{{.Names}}'
    assert_output "dns"

    [[ $(ps_names expose=80) == "web" ]] || fail "expose=80: $(ps_names expose=80)"
    [[ $(ps_names expose=9000/tcp) == "web" ]] || fail "expose=9000/tcp: $(ps_names expose=9000/tcp)"
    [[ $(ps_names expose=5301/udp) == "dns" ]] || fail "expose=5301/udp"
    [[ $(ps_names expose=5300-5301/udp) == "dns" ]] || fail "expose=5300-5301/udp"
    [[ $(ps_names expose=5301) == "" ]] || fail "expose=5301 (tcp) matched"
    # Values of one key are alternatives; publish= and expose= together too.
    [[ $(ps_names "publish=$web" "publish=$udp/udp") == "dns web" ]] || fail "two publish values"
    [[ $(ps_names "publish=1" expose=9000) == "web" ]] || fail "publish= with expose="
    # Different keys must all match.
    [[ $(ps_names "publish=$web" name=dns) == "" ]] || fail "publish= and name= are not both required"
    # Stopped containers publish nothing (as in docker: ps shows their ports
    # only while they run).
    [[ $(ps_names status=created expose=80) == "" ]] || fail "a created container matched expose="
    den stop -t 1 web >/dev/null
    [[ $(ps_names "publish=$web") == "" ]] || fail "a stopped container matched publish="
}

@test "ps --filter volume=: volume name, bind source, mount destination" {
    mkdir -p "$WORK/site"
    den create --name a -v data:/var/lib/data bb true >/dev/null
    den create --name b -v "$WORK/site:/srv/www:ro" bb true >/dev/null
    den create --name c --tmpfs /scratch bb true >/dev/null

    run_den ps -a --filter volume=data --format '{{.Names}}'
    assert_success
    assert_output "a"
    run_den ps -a --filter volume=/var/lib/data --format '{{.Names}}'
    assert_output "a"
    run_den ps -a --filter "volume=$WORK/site" --format '{{.Names}}'
    assert_output "b"
    run_den ps -a --filter volume=/srv/www --format '{{.Names}}'
    assert_output "b"
    # Exact names, not substrings; --tmpfs is no mount in docker's list.
    run_den ps -a --filter volume=dat --format '{{.Names}}'
    assert_output ""
    run_den ps -a --filter volume=/scratch --format '{{.Names}}'
    assert_output ""
    [[ $(ps_names volume=data volume=/srv/www) == "a b" ]] || fail "two volume values"
    # Without -a, only running containers.
    run_den ps --filter volume=data --format '{{.Names}}'
    assert_output ""

    # The MOUNTS and LOCAL VOLUMES fields: volume names or bind sources,
    # truncated to 15 characters as docker does.
    run_den ps -a --format '{{.Names}}:{{.Mounts}}:{{.LocalVolumes}}' --filter name=^a$ --filter name=^b$ --filter name=^c$
    assert_output "$(printf 'c::0\nb:%s\xe2\x80\xa6:0\na:data:1' "${WORK:0:14}")"
    run_den ps -a --no-trunc --format '{{.Mounts}}' --filter name=^b$
    assert_output "$WORK/site"
    run_den ps -a --format 'table {{.Names}}\t{{.Mounts}}' --filter name=^a$
    assert_output "$(printf 'NAMES     MOUNTS\na         data')"
}

@test "ps --filter health=: starting, healthy, unhealthy, none" {
    den run -d --network none --name good --health-cmd true --health-interval 1s bb sleep 1000 >/dev/null
    den run -d --network none --name bad --health-cmd false --health-interval 1s --health-retries 1 \
        bb sleep 1000 >/dev/null
    den run -d --network none --name slow --health-cmd true --health-interval 1h bb sleep 1000 >/dev/null
    den run -d --network none --name plain bb sleep 1000 >/dev/null
    den create --name created --health-cmd true bb true >/dev/null
    run timeout 30 "$DEN" wait --condition healthy good
    assert_success
    run timeout 30 "$DEN" wait --condition unhealthy bad
    assert_success

    run_den ps --filter health=healthy --format '{{.Names}} {{.Status}}'
    assert_success
    assert_line_matches '^good Up .* \(healthy\)$'
    assert_line_count 1
    run_den ps --filter health=unhealthy --format '{{.Names}}'
    assert_output "bad"
    run_den ps --filter health=starting --format '{{.Names}}'
    assert_output "slow"
    # none: no health check running (a created container has not started one).
    [[ $(ps_names health=none) == "created plain" ]] || fail "health=none: $(ps_names health=none)"
    [[ $(ps_names health=healthy health=unhealthy) == "bad good" ]] || fail "two health values"

    run_den ps --filter health=sick
    assert_den_error 'invalid filter "health=sick": use starting, healthy, unhealthy or none'
}

@test "ps --filter: bad keys and values are one clear error, no output" {
    run_den ps --filter publish=0.0.0.0:80
    assert_den_error 'invalid filter "publish=0.0.0.0:80": give a port, range or PORT/PROTOCOL, without a host IP'
    assert_output ""
    run_den ps --filter expose=http
    assert_den_error 'invalid filter "expose=http": use PORT, PORT/PROTOCOL or START-END\[/PROTOCOL\]'
    run_den ps --filter expose=90-80
    assert_den_error 'invalid filter "expose=90-80"'
    run_den ps --filter status=up
    assert_den_error 'invalid filter "status=up": use created, restarting, running, removing, paused, exited or dead'
    run_den ps --filter exited=x
    assert_den_error 'invalid filter "exited=x": give an exit code'
    run_den ps --filter is-task=true
    assert_den_error 'invalid filter "is-task": use status, name, label, ancestor, id, exited, before, since, network, volume, publish, expose, health'
    run_den ps --filter volume
    assert_den_error 'bad format of filter "volume" \(expected name=value\)'
}

@test "ps --filter: values of one key are alternatives (status, name, id, exited)" {
    den create --name one bb true >/dev/null
    den run --name two bb sh -c 'exit 3' >/dev/null || true
    den run -d --network none --name three bb sleep 1000 >/dev/null
    [[ $(ps_names status=created status=running) == "one three" ]] || fail "status: $(ps_names status=created status=running)"
    [[ $(ps_names exited=3 exited=0) == "two" ]] || fail "exited: $(ps_names exited=3 exited=0)"
    [[ $(ps_names name=^on name=^tw) == "one two" ]] || fail "name: $(ps_names name=^on name=^tw)"
    [[ $(ps_names 'name=^/three$') == "three" ]] || fail "name with docker's leading slash"
    local id
    id=$(den inspect -f '{{.Id}}' two)
    [[ $(ps_names "id=${id:0:12}") == "two" ]] || fail "id prefix"
    # status= alone lists stopped containers without -a (docker's rule).
    run_den ps --filter status=exited --format '{{.Names}}'
    assert_output "two"
}

# ---------------------------------------------------------------------------
# volume ls, network ls

@test "volume ls: docker's table, -q, --format with .Label, filters" {
    den volume create -l team=a -l com.example.tier=db alpha >/dev/null
    den volume create beta >/dev/null
    den volume create other >/dev/null
    den create --name user -v beta:/b bb true >/dev/null

    run_den volume ls
    assert_success
    assert_output "$(printf 'DRIVER    VOLUME NAME\nlocal     alpha\nlocal     beta\nlocal     other')"
    run_den volume ls -q
    assert_output "$(printf 'alpha\nbeta\nother')"
    run_den volume ls --format 'table {{.Name}}\t{{.Driver}}\t{{.Scope}}\t{{.Label "com.example.tier"}}'
    assert_output "$(printf 'VOLUME NAME   DRIVER    SCOPE     tier\nalpha         local     local     db\nbeta          local     local     \nother         local     local     ')"
    run_den volume ls --format '{{.Name}}: {{.Labels}}' -f label=team
    assert_output "alpha: com.example.tier=db,team=a"
    run_den volume ls --format '{{json .Name}}' -f label=team=a -f label=com.example.tier=db
    assert_output '"alpha"'
    run_den volume ls -q -f label=team=a -f label=nope
    assert_output ""
    # name= is docker's pattern match; several values: any.
    run_den volume ls -q -f name=^al -f name=oth
    assert_output "$(printf 'alpha\nother')"
    run_den volume ls -q -f 'name=a$'
    assert_output "$(printf 'alpha\nbeta')"
    run_den volume ls -q -f dangling=true
    assert_output "$(printf 'alpha\nother')"
    run_den volume ls -q -f dangling=false
    assert_output "beta"
    run_den volume ls -q -f driver=local -f name=beta
    assert_output "beta"
    run_den volume ls -q -f driver=nfs
    assert_output ""

    run_den volume ls -f dangling=maybe
    assert_den_error 'invalid filter "dangling=maybe": use dangling=true or dangling=false'
    run_den volume ls -f colour=red
    assert_den_error 'invalid filter "colour": use dangling, driver, label or name'
    assert_output ""
}

@test "network ls: docker's table, -q, --no-trunc, filters" {
    den network create --label env=prod front >/dev/null
    den network create back >/dev/null
    den create --name user --network back bb true >/dev/null
    local front_id back_id
    front_id=$(den network inspect -f '{{.Id}}' front)
    back_id=$(den network inspect -f '{{.Id}}' back)
    [[ $front_id =~ ^[0-9a-f]{64}$ ]] || fail "network ID: $front_id"

    run_den network ls
    assert_success
    assert_output "$(printf 'NETWORK ID     NAME      DRIVER    SCOPE\n%s   back      bridge    local\n%s   front     bridge    local' \
        "${back_id:0:12}" "${front_id:0:12}")"
    run_den network ls -q
    assert_output "$(printf '%s\n%s' "${back_id:0:12}" "${front_id:0:12}")"
    run_den network ls -q --no-trunc -f name=front
    assert_output "$front_id"
    run_den network ls --no-trunc --format '{{.ID}} {{.Name}}' -f name=back
    assert_output "$back_id back"
    run_den network ls --format 'table {{.Name}}\t{{.Internal}}\t{{.IPv6}}\t{{.Labels}}\t{{.Label "env"}}'
    assert_output "$(printf 'NAME      INTERNAL   IPV6      LABELS     env\nback      false      false                \nfront     false      false     env=prod   prod')"
    run_den network ls --format 'table {{.Name}}\t{{.CreatedAt}}' -f name=front
    assert_line_matches '^NAME      CREATED AT$'
    assert_line_matches '^front     [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} \+0000 UTC$'

    run_den network ls -q -f "id=${front_id:0:8}"
    assert_output "${front_id:0:12}"
    run_den network ls --format '{{.Name}}' -f label=env=prod
    assert_output "front"
    run_den network ls --format '{{.Name}}' -f driver=bridge -f scope=local -f type=custom
    assert_output "$(printf 'back\nfront')"
    run_den network ls --format '{{.Name}}' -f type=builtin
    assert_output ""
    run_den network ls --format '{{.Name}}' -f scope=swarm
    assert_output ""
    run_den network ls --format '{{.Name}}' -f dangling=true
    assert_output "front"
    run_den network ls --format '{{.Name}}' -f dangling=false
    assert_output "back"
    run_den network ls --format '{{.Name}}' -f name=^f -f name=^b
    assert_output "$(printf 'back\nfront')"

    run_den network ls -f type=overlay
    assert_den_error 'invalid filter "type=overlay": use type=custom or type=builtin'
    run_den network ls -f colour=red
    assert_den_error 'invalid filter "colour": use dangling, driver, id, label, name, scope or type'
    assert_output ""
}

# ---------------------------------------------------------------------------
# stats

@test "stats --no-stream: docker's columns; stopped containers with -a; --format" {
    den create --name idle bb true >/dev/null
    local id
    id=$(den inspect -f '{{.Id}}' idle)
    run_den stats --no-stream -a
    assert_success
    assert_output "$(printf 'CONTAINER ID   NAME      CPU %%     MEM USAGE / LIMIT   MEM %%     NET I/O   BLOCK I/O   PIDS\n%s   idle      0.00%%     0B / 0B             0.00%%     0B / 0B   0B / 0B     0' "${id:0:12}")"
    run_den stats --no-stream -a --no-trunc --format '{{.ID}} {{.Container}} {{.Name}} {{.PIDs}}'
    assert_output "$id $id idle 0"
    run_den stats --no-stream -a --format 'table {{.Name}}\t{{.MemPerc}}'
    assert_output "$(printf 'NAME      MEM %%\nidle      0.00%%')"
    # Only running containers without -a: just the header.
    run_den stats --no-stream
    assert_output "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS"

    den run -d --network none --name busy bb sleep 1000 >/dev/null
    run_den stats --no-stream --format '{{.Name}} {{.PIDs}}'
    assert_success
    assert_output "busy 1"
    run_den stats --no-stream
    assert_line_matches '^CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT +MEM %     NET I/O   BLOCK I/O   PIDS$'
    assert_line_matches '^[0-9a-f]{12}   busy      [0-9]+\.[0-9]{2}%  +[0-9.]+[KMG]?i?B / [0-9.]+[KMG]iB +[0-9]+\.[0-9]{2}% +'
    # Newest first, as docker ps lists them.
    run_den stats --no-stream -a --format '{{.Name}}'
    assert_output "$(printf 'busy\nidle')"
}

# ---------------------------------------------------------------------------
# -o writes a temp file and renames it: a failure leaves no file

@test "export -o and volume export -o: a failure leaves no file, an old file stays" {
    den create --name c bb true >/dev/null
    den volume create vv >/dev/null
    den run --rm --network none -v vv:/d bb sh -c 'head -c 300000 /dev/zero >/d/big' >/dev/null

    # Success: the file, and no temp file beside it.
    run_den export -o "$WORK/c.tar" c
    assert_success
    tar -tf "$WORK/c.tar" | grep -qx './bin/busybox\|bin/busybox' || fail "export has no bin/busybox"
    run_den volume export -o "$WORK/v.tar" vv
    assert_success
    tar -tf "$WORK/v.tar" | grep -qx './big' || fail "volume export has no ./big"
    run ls "$WORK"
    assert_output "$(printf 'c.tar\nv.tar')"

    # Writes that fail half way (a file size limit: EFBIG, SIGXFSZ ignored):
    # no new file, no temp file.
    run_sh "trap '' XFSZ; ulimit -f 64; '$DEN' export -o '$WORK/new.tar' c"
    assert_failure 125
    assert_stderr_matches '^Error: .*File too large'
    run_sh "trap '' XFSZ; ulimit -f 64; '$DEN' volume export -o '$WORK/newv.tar' vv"
    assert_failure 125
    run ls "$WORK"
    assert_output "$(printf 'c.tar\nv.tar')"

    # Over an existing file: it keeps its old content.
    echo old >"$WORK/c.tar"
    echo old >"$WORK/v.tar"
    run_sh "trap '' XFSZ; ulimit -f 64; '$DEN' export -o '$WORK/c.tar' c"
    assert_failure 125
    run_sh "trap '' XFSZ; ulimit -f 64; '$DEN' volume export -o '$WORK/v.tar' vv"
    assert_failure 125
    run cat "$WORK/c.tar" "$WORK/v.tar"
    assert_output "$(printf 'old\nold')"
    run ls "$WORK"
    assert_output "$(printf 'c.tar\nv.tar')"

    # save shares the mechanism.
    run_sh "trap '' XFSZ; ulimit -f 64; '$DEN' save -o '$WORK/bb.tar' bb"
    assert_failure 125
    run ls "$WORK"
    assert_output "$(printf 'c.tar\nv.tar')"

    # A directory that does not exist: the path the user gave, in one line.
    run_den export -o "$WORK/nodir/c.tar" c
    assert_den_error "cannot write $WORK/nodir/c.tar \\(-o\\): No such file or directory"
}
