#!/usr/bin/env bats
# Kill points: den SIGKILLed at random moments of load, pull, run -d, rm -f,
# commit, volume import and cp leaves a store that the next calls work with
# (images, ps -a, run --rm), and `system check --repair` leaves nothing for
# `system check` to find. Also the leftovers such kills make, made on
# purpose: names of no container, half volume imports, unreferenced blobs.

load helpers

local_setup() {
    import_busybox bb >/dev/null
    REGS=()
}

local_teardown() {
    local p
    for p in "${REGS[@]}"; do kill "$p" 2>/dev/null || true; done
    local ids
    ids=$(den ps -aq 2>/dev/null) || true
    [[ -z $ids ]] || den rm -f $ids >/dev/null 2>&1 || true
}

# Iterations of each kill loop (KILL_ITERATIONS=20 for a longer hunt).
ITER=${KILL_ITERATIONS:-4}

# kill_during MAX_MS ARGS... : runs den ARGS (stdin from /dev/null unless
# KILL_STDIN names a file) and SIGKILLs it after a random 0..MAX_MS ms.
kill_during() {
    local max=$1 ms
    shift
    ms=$(( RANDOM % (max + 1) ))
    "$DEN" "$@" <"${KILL_STDIN:-/dev/null}" >/dev/null 2>&1 &
    local pid=$!
    sleep "$(printf '0.%03d' "$ms")"
    [[ $ms -lt 1000 ]] || sleep $(( ms / 1000 ))
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ms ARGS... : how long den ARGS takes, in milliseconds (at least 50).
ms() {
    local t0 t1
    t0=$(date +%s%N)
    "$DEN" "$@" <"${KILL_STDIN:-/dev/null}" >/dev/null 2>&1 || true
    t1=$(date +%s%N)
    local d=$(( (t1 - t0) / 1000000 ))
    (( d >= 50 )) || d=50
    (( d <= 3000 )) || d=3000
    echo "$d"
}

# The store still works: list images and containers, run a container.
assert_store_works() {
    run_den images
    assert_success
    run_den ps -a
    assert_success
    run_den run --rm --network none bb true
    assert_success
}

# system check --repair, then a clean system check.
assert_repaired() {
    run_den system check --repair
    if [[ $status -ne 0 ]]; then
        show_result
        fail "system check --repair could not repair everything"
    fi
    run_den system check
    assert_success
    assert_output OK
}

# An image with a few MB in two layers, saved to $WORK/big.tar.
make_big_image() {
    den run --name mkbig --network none bb sh -c 'head -c 6000000 /dev/urandom >/r1; seq 1 300000 >/r2' >/dev/null
    den commit mkbig big:1 >/dev/null
    den rm mkbig >/dev/null
    den save -o "$WORK/big.tar" big:1
}

@test "SIGKILL of load, commit, pull: images and GC stay consistent" {
    make_big_image
    den rmi big:1 >/dev/null
    local i t
    t=$(ms load -i "$WORK/big.tar")
    for i in $(seq 1 "$ITER"); do
        den rmi -f big:1 >/dev/null 2>&1 || true
        kill_during "$t" load -i "$WORK/big.tar"
        assert_store_works
    done
    assert_repaired
    run_den load -i "$WORK/big.tar"
    assert_success

    den run --name src --network none bb sh -c 'head -c 3000000 /dev/urandom >/c' >/dev/null
    t=$(ms commit src c:0)
    for i in $(seq 1 "$ITER"); do
        kill_during "$t" commit src "c:$i"
        assert_store_works
    done
    assert_repaired

    command -v docker-registry >/dev/null || skip "docker-registry not installed"
    local port
    port=$(free_port)
    mkdir -p "$WORK/reg/data"
    printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp:\n  addr: 127.0.0.1:%s\n' \
        "$WORK/reg/data" "$port" >"$WORK/reg/config.yml"
    docker-registry serve "$WORK/reg/config.yml" >"$WORK/reg/log" 2>&1 &
    REGS+=($!)
    for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
    local ref=127.0.0.1:$port/kill/big:1
    den tag big:1 "$ref"
    den push -q "$ref" >/dev/null
    den rmi "$ref" big:1 >/dev/null
    t=$(ms pull -q "$ref")
    for i in $(seq 1 "$ITER"); do
        den rmi -f "$ref" >/dev/null 2>&1 || true
        kill_during "$t" pull -q "$ref"
        assert_store_works
    done
    # An interrupted pull resumes: what is left is reported, and repaired.
    assert_repaired
    run_den pull -q "$ref"
    assert_success
    run_den run --rm --network none "$ref" sh -c 'wc -c </r1'
    assert_output 6000000
}

@test "SIGKILL of run -d, rm -f, cp, volume import: names, containers and volumes recover" {
    local i t
    # run -d: the name is either a container or free again.
    t=$(ms run -d --name probe bb sleep 1000)
    den rm -f probe >/dev/null
    for i in $(seq 1 "$ITER"); do
        kill_during "$t" run -d --name "k$i" bb sleep 1000
        assert_store_works
        # The name is usable at once: --replace, or a plain run after rm -f.
        if (( i % 2 )); then
            run_den run -d --replace --name "k$i" bb sleep 1000
            assert_success
        else
            run_den rm -f "k$i"
            assert_success
            run_den run -d --name "k$i" bb sleep 1000
            assert_success
        fi
    done
    # rm -f: the container is gone or still there, and removable.
    t=$(ms rm -f probe)
    for i in $(seq 1 "$ITER"); do
        kill_during "$((t + 300))" rm -f "k$i"
        assert_store_works
        run_den rm -f "k$i"
        assert_success
        run_den inspect "k$i"
        assert_failure
    done
    assert_repaired

    # cp into a running and a stopped container.
    mkdir -p "$WORK/tree"
    for i in $(seq 1 40); do head -c 100000 /dev/urandom >"$WORK/tree/f$i"; done
    den run -d --name cpr --network none bb sleep 1000 >/dev/null
    den create --name cps --network none bb true >/dev/null
    t=$(ms cp "$WORK/tree" cps:/probe)
    for i in $(seq 1 "$ITER"); do
        kill_during "$t" cp "$WORK/tree" "cpr:/t$i"
        kill_during "$t" cp "$WORK/tree" "cps:/t$i"
        assert_store_works
    done
    run_den cp "$WORK/tree" cps:/final
    assert_success
    run_den start -a cps
    assert_success
    assert_repaired

    # volume import: all or nothing.
    den volume create vol >/dev/null
    mkdir -p "$WORK/v1"
    for i in $(seq 1 40); do head -c 100000 /dev/urandom >"$WORK/v1/g$i"; done
    tar -C "$WORK/v1" -cf "$WORK/v1.tar" .
    echo old >"$WORK/old"
    tar -C "$WORK" -cf "$WORK/old.tar" old
    den volume import vol "$WORK/old.tar"
    t=$(ms volume import vol "$WORK/v1.tar")
    den volume rm vol >/dev/null
    den volume create vol >/dev/null
    den volume import vol "$WORK/old.tar"
    for i in $(seq 1 "$ITER"); do
        kill_during "$t" volume import vol "$WORK/v1.tar"
        run_den run --rm --network none -v vol:/v bb sh -c 'ls /v | wc -l; cat /v/old; for f in /v/g*; do [ -e $f ] || continue; [ $(wc -c <$f) = 100000 ] || echo short $f; done'
        assert_success
        # Before: old only; after: old and 40 whole files.
        [[ $output == "$(printf '1\nold')" || $output == "$(printf '41\nold')" ]] ||
            fail "half-imported volume: $output"
    done
    assert_repaired
    assert_store_works
}

@test "a name left by a killed run --name: rm -f, --replace and run free it; system check repairs it" {
    local names=$GRAPHROOT/containers/names
    den run --rm --network none bb true
    # What a den killed between reserving the name and creating the
    # container leaves.
    printf '%064d' 7 >"$names/ghost"
    run_den ps -a --format '{{.Names}}'
    assert_output ""
    run_den system check
    assert_failure 1
    assert_output "container name ghost is reserved by no container"
    run_den rm -f ghost
    assert_success
    assert_output ghost
    [[ ! -e $names/ghost ]] || fail "rm -f did not free the name"
    printf '%064d' 7 >"$names/ghost"
    run_den run --rm --network none --name ghost bb echo ran
    assert_success
    assert_output ran
    printf '%064d' 7 >"$names/ghost"
    run_den run -d --replace --name ghost bb sleep 100
    assert_success
    run_den rm -f ghost
    assert_success
    : >"$names/empty"
    run_den create --name empty bb true
    assert_success
    run_den rm empty
    assert_success
    printf '%064d' 7 >"$names/ghost"
    run_den system check --repair
    assert_success
    assert_output "container name ghost is reserved by no container: repaired"
    run_den system check
    assert_output OK
    # A name held by a container is not touched.
    den create --name real bb true >/dev/null
    run_den run --rm --name real bb true
    assert_den_error 'already in use'
}

@test "volume import killed midway leaves the volume as it was; system check repairs the staging" {
    den volume create vv >/dev/null
    echo before >"$WORK/keep"
    tar -C "$WORK" -cf "$WORK/keep.tar" keep
    den volume import vv "$WORK/keep.tar"
    mkdir -p "$WORK/new"
    for i in $(seq 1 20); do head -c 200000 /dev/urandom >"$WORK/new/n$i"; done
    tar -C "$WORK/new" -cf "$WORK/new.tar" .
    # Half the archive, then nothing: den is at work when it is killed.
    mkfifo "$WORK/fifo"
    "$DEN" volume import vv - <"$WORK/fifo" >/dev/null 2>&1 &
    local pid=$!
    exec 7>"$WORK/fifo"
    head -c 2000000 "$WORK/new.tar" >&7
    sleep 1
    kill -9 "$pid"
    wait "$pid" || true
    exec 7>&-
    run_den run --rm --network none -v vv:/v bb ls /v
    assert_success
    assert_output keep
    run_den system check
    assert_failure 1
    assert_line_matches "^staging leftover .*/tmp/volume-import-"
    run_den system check --repair
    assert_success
    run_den system check
    assert_output OK
    # A whole import adds to what is there.
    run_den volume import vv "$WORK/new.tar"
    assert_success
    run_den run --rm --network none -v vv:/v bb sh -c 'ls /v | wc -l; cat /v/keep'
    assert_output "$(printf '21\nbefore')"
    # Into a volume a running container mounts (as podman): the container
    # sees the archive's files; a bad archive changes nothing.
    den run -d --name user --network none -v vv:/v bb sleep 100 >/dev/null
    run_sh "head -c 3000 \"\$WORK/new.tar\" > \"\$WORK/cut.tar\""
    run_den volume import vv "$WORK/cut.tar"
    assert_failure 125
    run_den exec user sh -c 'ls /v | wc -l'
    assert_output 21
    run_den exec user sh -c 'echo changed >/v/keep'
    assert_success
    run_den volume import vv "$WORK/keep.tar"
    assert_success
    run_den exec user cat /v/keep
    assert_output before
    run_den exec user sh -c 'ls /v | wc -l'
    assert_output 21
    run_den system check
    assert_output OK
}

@test "unreferenced blobs, temporary blob files and interrupted downloads: reported, repaired; in-use ones kept" {
    local blobs=$GRAPHROOT/blobs/sha256
    run_den system check
    assert_output OK
    # A load that ran out of space after committing a layer blob.
    head -c 100000 /dev/urandom >"$WORK/blob"
    local hex
    hex=$(sha256sum "$WORK/blob" | cut -d' ' -f1)
    cp "$WORK/blob" "$blobs/$hex"
    echo half >"$blobs/.tmp-$hex-12345"
    mkdir -p "$GRAPHROOT/partial"
    echo part >"$GRAPHROOT/partial/$(printf '%064d' 1)"
    run_den system check
    assert_failure 1
    assert_line_matches "^unreferenced blob $blobs/$hex \\(100kB\\)$"
    assert_line_matches "^temporary blob file $blobs/.tmp-$hex-12345"
    assert_line_matches "^interrupted download $GRAPHROOT/partial/0+1 "
    # While a loader holds the store's GC lock nothing is reported or removed.
    flock -s "$GRAPHROOT/gc.lock" sleep 3 &
    local holder=$!
    sleep 0.5
    run_den system check --repair
    assert_success
    assert_output OK
    [[ -e $blobs/$hex ]] || fail "a blob was removed while a load ran"
    # (Only this job: bats's own BATS_TEST_TIMEOUT sleeper is a job too.)
    wait "$holder"
    run_den system check --repair
    assert_success
    assert_line_matches "^unreferenced blob .*: repaired$"
    run_den system check
    assert_output OK
    [[ ! -e $blobs/$hex ]] || fail "the unreferenced blob is still there"
    # The images' own blobs stay.
    run_den run --rm --network none bb echo fine
    assert_output fine
    run_den save bb -o "$WORK/bb.tar"
    assert_success
}
