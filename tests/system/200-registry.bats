#!/usr/bin/env bats
# Registries: pull, push, login, logout, registries.conf (mirrors, aliases,
# blocked), auth.json, run --pull; against Debian's docker-registry
# (distribution) on 127.0.0.1, plain HTTP, TLS with a self-signed CA, and
# htpasswd auth; cross-checked with skopeo; error paths against
# fake-registry.py.

load helpers

local_setup() {
    import_busybox bb >/dev/null
    REGS=()
}

local_teardown() {
    # The disk-full test's store on the small file system.
    if [[ -n ${FULL_ROOT:-} ]]; then
        den unshare rm -rf "$FULL_ROOT" >/dev/null 2>&1 || rm -rf "$FULL_ROOT" 2>/dev/null || true
    fi
    local p
    for p in "${REGS[@]}"; do kill "$p" 2>/dev/null || true; done
    local ids
    ids=$(den ps -aq 2>/dev/null) || true
    [[ -z $ids ]] || den rm -f $ids >/dev/null 2>&1 || true
}

# start_registry NAME [tls] [auth] : starts docker-registry, sets
# ${NAME}_PORT (and the CA in $WORK/NAME/certs/ca.crt with tls; user
# "tester", password "s3cret" with auth).
start_registry() {
    local name=$1 tls=${2:-} auth=${3:-} dir=$WORK/$1 port
    port=$(free_port)
    mkdir -p "$dir/data" "$dir/certs"
    {
        echo "version: 0.1"
        echo "log: {level: error}"
        echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
        echo "http:"
        echo "  addr: 127.0.0.1:$port"
        if [[ $tls == tls ]]; then
            echo "  tls: {certificate: $dir/certs/server.crt, key: $dir/certs/server.key}"
        fi
        if [[ $auth == auth ]]; then
            echo "auth: {htpasswd: {realm: den-test, path: $dir/htpasswd}}"
        fi
    } >"$dir/config.yml"
    if [[ $tls == tls ]]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=den-test-ca \
            -keyout "$dir/certs/ca.key" -out "$dir/certs/ca.crt" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
            -keyout "$dir/certs/server.key" -out "$dir/certs/server.csr" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\n' >"$dir/certs/ext"
        openssl x509 -req -in "$dir/certs/server.csr" -CA "$dir/certs/ca.crt" -CAkey "$dir/certs/ca.key" \
            -CAcreateserial -days 2 -extfile "$dir/certs/ext" -out "$dir/certs/server.crt" 2>/dev/null
    fi
    if [[ $auth == auth ]]; then
        htpasswd -Bbn tester s3cret >"$dir/htpasswd"
    fi
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    REGS+=($!)
    local scheme=http i
    [[ $tls == tls ]] && scheme=https
    for i in $(seq 100); do
        curl -sk -o /dev/null "$scheme://127.0.0.1:$port/v2/" && break
        sleep 0.1
    done
    printf -v "${name}_PORT" '%s' "$port"
}

# start_fake MODE : fake-registry.py serving bb as bad/img:1; sets FAKE_PORT.
start_fake() {
    local dir=$WORK/fake-$1
    rm -rf "$dir"
    mkdir -p "$dir"
    # bb is saved once and then removed, so that no blob of it is left in
    # the store to spare the download.
    if [[ ! -d $WORK/oci ]]; then
        den save --format oci-dir -o "$WORK/oci" bb
        den rmi bb >/dev/null
    fi
    python3 "$BATS_TEST_DIRNAME/fake-registry.py" "$dir/port" "$1" "$WORK/oci" &
    REGS+=($!)
    local i
    for i in $(seq 100); do
        [[ -s $dir/port ]] && break
        sleep 0.1
    done
    FAKE_PORT=$(cat "$dir/port")
}

@test "push and pull through a plain-HTTP loopback registry, then run the image" {
    start_registry r
    local ref=127.0.0.1:$r_PORT/tz/bb:1
    run_den tag bb "$ref"
    assert_success
    run_den push "$ref"
    assert_success
    assert_stderr_contains "Writing manifest"
    local id
    id=$(image_id bb)
    den rmi "$ref" >/dev/null
    den rmi bb >/dev/null
    run_den images -q
    assert_output ""
    run_den pull "$ref"
    assert_success
    assert_output "${id#sha256:}"
    assert_stderr_contains "Trying to pull $ref..."
    run_den image inspect --format '{{.Id}} {{index .RepoTags 0}}' "$ref"
    assert_output "$id $ref"
    run_den image inspect --format '{{len .RepoDigests}}' "$ref"
    assert_output 1
    run_den run --rm --network none "$ref" echo pulled
    assert_success
    assert_output pulled
    # A second pull finds every blob and layer already there.
    run_den pull "$ref"
    assert_success
    assert_stderr_contains "skipped: already exists"
    assert_no_staging_leftovers
}

@test "pull by digest; pull -q prints only the image ID" {
    start_registry r
    local name=127.0.0.1:$r_PORT/tz/bb
    den tag bb "$name:1"
    den push -q --digestfile "$WORK/digest" "$name:1"
    local digest
    digest=$(cat "$WORK/digest")
    [[ $digest == sha256:* ]] || fail "no digest written: $digest"
    den rmi "$name:1" >/dev/null
    den rmi bb >/dev/null
    run_den pull -q "$name@$digest"
    assert_success
    assert_line_count 1
    assert_stderr_empty
    run_den images --digests --format '{{.Digest}}'
    assert_output "$digest"
}

@test "run --pull=always|missing|never" {
    start_registry r
    local ref=127.0.0.1:$r_PORT/bb:2
    den tag bb "$ref"
    den push -q "$ref"
    den rmi "$ref" >/dev/null
    run_den run --rm --network none --pull=never "$ref" true
    assert_den_error "not known"
    run_den run --rm --network none -q "$ref" echo missing-pulled
    assert_success
    assert_output missing-pulled
    run_den run --rm --network none --pull=always "$ref" echo again
    assert_success
    assert_output again
    assert_stderr_contains "Trying to pull"
    run_den run --rm --pull=sometimes bb true
    assert_den_error "invalid --pull"
}

@test "skopeo copies into the registry, den pulls and runs it; den pushes, skopeo reads it" {
    command -v skopeo >/dev/null || skip "skopeo is not installed"
    start_registry r
    den save -o "$WORK/bb.tar" bb
    skopeo copy --quiet --dest-tls-verify=false "docker-archive:$WORK/bb.tar" \
        "docker://127.0.0.1:$r_PORT/from/skopeo:1"
    run_den pull -q "127.0.0.1:$r_PORT/from/skopeo:1"
    assert_success
    run_den run --rm --network none "127.0.0.1:$r_PORT/from/skopeo:1" echo via-skopeo
    assert_output via-skopeo
    # den pushes, skopeo reads the same config.
    den tag bb "127.0.0.1:$r_PORT/from/den:1"
    den push -q "127.0.0.1:$r_PORT/from/den:1"
    run skopeo inspect --tls-verify=false --config "docker://127.0.0.1:$r_PORT/from/den:1"
    [[ $status -eq 0 ]] || fail "skopeo inspect failed: $output"
    local want
    want=$(den image inspect --format '{{.Id}}' bb)
    local got
    got=$(skopeo inspect --tls-verify=false --raw "docker://127.0.0.1:$r_PORT/from/den:1" | json_get - 'j["config"]["digest"]')
    assert_equal "$got" "$want"
    skopeo copy --quiet --src-tls-verify=false "docker://127.0.0.1:$r_PORT/from/den:1" "oci:$WORK/back:1"
    [[ -s $WORK/back/index.json ]] || fail "skopeo copy wrote nothing"
}

@test "TLS with a self-signed CA: refused by default, accepted with --cert-dir or --tls-verify=false" {
    start_registry s tls
    local ref=127.0.0.1:$s_PORT/bb:1
    den tag bb "$ref"
    run_den push -q "$ref"
    assert_den_error "certificate"
    run_den push -q --cert-dir "$WORK/s/certs" "$ref"
    assert_success
    den rmi "$ref" >/dev/null
    run_den pull -q --tls-verify=false "$ref"
    assert_success
}

@test "login, pull and push with htpasswd auth; wrong password; logout" {
    start_registry a "" auth
    local reg=127.0.0.1:$a_PORT ref=127.0.0.1:$a_PORT/priv/bb:1
    den tag bb "$ref"
    run_den push -q "$ref"
    assert_den_error "den login"
    run_sh "echo wrong | \$DEN login -u tester --password-stdin $reg"
    assert_failure 125
    assert_stderr_contains "wrong username or password"
    run_sh "echo s3cret | \$DEN login -u tester --password-stdin $reg"
    assert_success
    assert_output "Login Succeeded!"
    local auth=$XDG_RUNTIME_DIR/containers/auth.json
    [[ -f $auth ]] || fail "no $auth"
    [[ $(stat -c %a "$auth") == 600 ]] || fail "auth.json is not 0600"
    run json_get "$auth" "j['auths']['$reg']['auth']"
    assert_output "$(printf tester:s3cret | base64)"
    run_den push -q "$ref"
    assert_success
    den rmi "$ref" >/dev/null
    run_den pull -q "$ref"
    assert_success
    # REGISTRY_AUTH_FILE moves the credentials elsewhere.
    run_sh "echo s3cret | REGISTRY_AUTH_FILE=$WORK/other.json \$DEN login -u tester --password-stdin $reg"
    assert_success
    [[ -s $WORK/other.json ]] || fail "REGISTRY_AUTH_FILE was not written"
    run_den logout "$reg"
    assert_success
    assert_output "Removed login credentials for $reg"
    run_den logout "$reg"
    assert_den_error "not logged into"
    den rmi "$ref" >/dev/null
    run_den pull -q "$ref"
    assert_den_error "den login"
}

@test "registries.conf: a mirror is tried first, aliases and search registries resolve short names, blocked" {
    start_registry m
    start_registry o
    # The image exists only on the mirror.
    den tag bb "127.0.0.1:$m_PORT/lib/bb:1"
    den push -q "127.0.0.1:$m_PORT/lib/bb:1"
    cat >"$WORK/registries.conf" <<EOF
unqualified-search-registries = ["127.0.0.1:$o_PORT", "127.0.0.1:$m_PORT/lib"]
[[registry]]
prefix = "example.test"
location = "127.0.0.1:$o_PORT"
insecure = true
[[registry.mirror]]
location = "127.0.0.1:$m_PORT/lib"
insecure = true
[[registry]]
prefix = "blocked.test"
blocked = true
[aliases]
"shorty" = "127.0.0.1:$m_PORT/lib/bb"
EOF
    export CONTAINERS_REGISTRIES_CONF=$WORK/registries.conf
    run_den pull -q example.test/bb:1
    assert_success
    run_den images --format '{{.Repository}}:{{.Tag}}'
    assert_output_contains "example.test/bb:1"
    run_den pull -q shorty:1
    assert_success
    run_den images --format '{{.Repository}}:{{.Tag}}'
    assert_output_contains "127.0.0.1:$m_PORT/lib/bb:1"
    # Short name through the search list: the first registry lacks it.
    den rmi "127.0.0.1:$m_PORT/lib/bb:1" >/dev/null
    run_den pull bb:1
    assert_success
    assert_stderr_contains "Trying to pull 127.0.0.1:$o_PORT/bb:1..."
    assert_stderr_contains "Trying to pull 127.0.0.1:$m_PORT/lib/bb:1..."
    run_den pull -q blocked.test/x:1
    assert_den_error "blocked"
}

@test "broken registries: wrong digest, truncated blob, 401 without challenge, a 64 MiB manifest; nothing corrupt is kept" {
    local mode
    for mode in wrong-digest truncated no-challenge huge-manifest; do
        start_fake "$mode"
        run_den pull -q "127.0.0.1:$FAKE_PORT/bad/img:1"
        case $mode in
            wrong-digest) assert_den_error "digest mismatch" ;;
            truncated) assert_den_error "127.0.0.1:$FAKE_PORT" ;;
            no-challenge) assert_den_error "without a WWW-Authenticate challenge" ;;
            # read up to the 4 MiB cap, never the 64 MiB whole
            huge-manifest) assert_den_error "127.0.0.1:$FAKE_PORT/v2/bad/img/manifests/1: the response is larger than the limit of 4 MiB" ;;
        esac
        run_den images --format '{{.Repository}}'
        assert_output_not_contains "bad/img"
        assert_no_staging_leftovers
    done
}

@test "a connection cut mid-blob is resumed with Range in the same pull" {
    start_fake cut
    run_den --log-level=debug pull -q "127.0.0.1:$FAKE_PORT/bad/img:1"
    assert_success
    # The layer was extracted while it downloaded, across the resume.
    assert_stderr_contains "extract layer stream"
    [[ $stderr != *"extracting from the blob"* ]] || fail "the streamed extraction failed: $stderr"
    grep -Eq ' bytes=[1-9][0-9]*-$' "$WORK/fake-cut/port.log" ||
        fail "no ranged request after the cut: $(cat "$WORK/fake-cut/port.log")"
    run_den run --rm --network none "127.0.0.1:$FAKE_PORT/bad/img:1" echo resumed
    assert_output resumed
    [[ -z $(ls -A "$GRAPHROOT/partial") ]] || fail "partial downloads left: $(ls -A "$GRAPHROOT/partial")"
}

@test "chunked push (push_chunk_size): skopeo and den read back the same image" {
    start_registry r
    mkdir -p "$XDG_CONFIG_HOME/den"
    printf '[engine]\npush_chunk_size = 65536\n' >"$XDG_CONFIG_HOME/den/den.conf"
    local ref=127.0.0.1:$r_PORT/chunk/bb:1
    den tag bb "$ref"
    run_den --log-level=debug push "$ref"
    assert_success
    local chunks
    chunks=$(grep -c "upload blob .*: [0-9]* of [0-9]* bytes" <<<"$stderr" || true)
    ((chunks > 4)) || fail "expected a chunked upload (>4 PATCHes), saw $chunks: $stderr"
    run skopeo inspect --tls-verify=false "docker://$ref"
    assert_success
    local id
    id=$(image_id bb)
    den rmi "$ref" bb >/dev/null
    run_den pull -q "$ref"
    assert_success
    assert_equal "$(image_id "$ref")" "$id"
}

@test "disk full mid-pull: one clear error, nothing half-made, the store works on" {
    local full=/var/tmp/den-test-full/$(id -un)
    [[ -d $full && -w $full ]] || skip "no small file system at $full (tests/setup makes it)"
    mountpoint -q /var/tmp/den-test-full || skip "/var/tmp/den-test-full is not a separate file system"
    start_registry r
    # A layer of 32 MB of random bytes: bigger than the 24 MB file system.
    mkdir -p "$WORK/big"
    head -c 32000000 /dev/urandom >"$WORK/big/blob"
    tar -C "$WORK/big" -cf "$WORK/big.tar" blob
    local ref=127.0.0.1:$r_PORT/big/img:1
    den import "$WORK/big.tar" "$ref" >/dev/null
    den push -q "$ref"
    local root=$full/g.$BATS_TEST_NUMBER.$$
    FULL_ROOT=$root
    run_den --root "$root" pull -q "$ref"
    assert_den_error "No space left on device"
    assert_stderr_contains "127.0.0.1:$r_PORT"
    run_den --root "$root" images -q
    assert_success
    assert_output ""
    GRAPHROOT=$root assert_no_staging_leftovers
    # What filled the disk is gone, so the next calls work.
    [[ -z $(ls -A "$root/partial") ]] || fail "the partial download was kept on a full disk: $(ls -A "$root/partial")"
    den tag bb "127.0.0.1:$r_PORT/small/bb:1"
    den push -q "127.0.0.1:$r_PORT/small/bb:1"
    run_den --root "$root" pull -q "127.0.0.1:$r_PORT/small/bb:1"
    assert_success
    run_den --root "$root" run --rm --network none "127.0.0.1:$r_PORT/small/bb:1" echo still-works
    assert_output still-works
}

@test "flaky and redirecting registries still work: 500 is retried, redirects are followed" {
    local mode
    for mode in flaky redirect; do
        start_fake "$mode"
        run_den pull -q "127.0.0.1:$FAKE_PORT/bad/img:1"
        assert_success
        run_den images --format '{{.Repository}}:{{.Tag}}'
        assert_output_contains "127.0.0.1:$FAKE_PORT/bad/img:1"
        den rmi "127.0.0.1:$FAKE_PORT/bad/img:1" >/dev/null
    done
}

@test "bad input: unknown image, bad reference, push without registry, missing registry" {
    start_registry r
    run_den pull -q "127.0.0.1:$r_PORT/no/such:1"
    assert_den_error "not found"
    run_den pull -q "127.0.0.1:$r_PORT/UPPER:1"
    assert_den_error "invalid reference format"
    run_den push -q bb
    assert_den_error "needs a registry"
    run_den pull -q "127.0.0.1:1/x:1"
    assert_den_error "127.0.0.1:1"
    # An image for another architecture than the one asked for.
    den tag bb "127.0.0.1:$r_PORT/arch/bb:1"
    den push -q "127.0.0.1:$r_PORT/arch/bb:1"
    run_den pull -q --platform linux/s390x "127.0.0.1:$r_PORT/arch/bb:1"
    assert_den_error "not linux/s390x"
    run_den pull -q --platform s390x "127.0.0.1:$r_PORT/arch/bb:1"
    assert_den_error "invalid --platform"
}

@test "manifest inspect, search, pull --all-tags" {
    start_registry r
    local name=127.0.0.1:$r_PORT/tz/bb
    den tag bb "$name:1"
    den tag bb "$name:2"
    den push -q "$name:1"
    den push -q "$name:2"
    run_den manifest inspect "$name:1"
    assert_success
    run json_get - 'j["schemaVersion"]' <<<"$output"
    assert_output 2
    run_den search "127.0.0.1:$r_PORT/bb"
    assert_success
    assert_line_matches "^NAME +DESCRIPTION +STARS +OFFICIAL +AUTOMATED"
    assert_line_matches "^127.0.0.1:$r_PORT/tz/bb "
    run_den search --format '{{.Name}}' "127.0.0.1:$r_PORT/nothing-like-it"
    assert_success
    assert_output ""
    # A registry with a search API (as Docker Hub and Quay have): its
    # descriptions, stars and flags, docker's columns and truncation.
    start_fake ok
    run_den search "127.0.0.1:$FAKE_PORT/img"
    assert_success
    assert_line_matches "^NAME +DESCRIPTION +STARS +OFFICIAL +AUTOMATED$"
    assert_line_matches "^127.0.0.1:$FAKE_PORT/bad/img +A deliberately broken image, served by fake-… +7 +\[OK\] *$"
    run_den search -f stars=8 --format '{{.Name}}' "127.0.0.1:$FAKE_PORT/img"
    assert_output ""
    run_den search -f stars=7 -f is-official=true -f is-automated=false --format '{{.Name}}' "127.0.0.1:$FAKE_PORT/img"
    assert_output "127.0.0.1:$FAKE_PORT/bad/img"
    run_den search -f official=1 "127.0.0.1:$FAKE_PORT/img"
    assert_den_error 'invalid filter "official=1"'
    run_den search --no-trunc --format '{{.Name}}|{{.Description}}|{{.StarCount}}|{{.IsOfficial}}|{{.IsAutomated}}' \
        "127.0.0.1:$FAKE_PORT/img"
    assert_output "127.0.0.1:$FAKE_PORT/bad/img|A deliberately broken image, served by fake-registry.py for den's tests|7|[OK]|"
    run_den search --format '{{.Name}}' "127.0.0.1:$FAKE_PORT/zzz"
    assert_output ""
    den rmi "$name:1" "$name:2" >/dev/null
    run_den pull -q --all-tags "$name"
    assert_success
    run_den images --format '{{.Repository}}:{{.Tag}}'
    assert_output_contains "$name:1"
    assert_output_contains "$name:2"
    run_den pull -q --all-tags "$name:1"
    assert_den_error "without a tag"
}

@test "podman pulls what den pushed: the same config and layers" {
    command -v podman >/dev/null || skip "podman is not installed"
    start_registry r
    local ref=127.0.0.1:$r_PORT/to/podman:1
    den tag bb "$ref"
    den push -q "$ref"
    # podman wants a run root of at most 50 characters.
    local pmrun
    pmrun=$(mktemp -d /tmp/pmr.XXXXXX)
    local pm="podman --root $WORK/pm --runroot $pmrun --storage-driver vfs --cgroup-manager cgroupfs --events-backend file"
    run $pm pull -q --tls-verify=false "$ref"
    [[ $status -eq 0 ]] || fail "podman pull failed: $output"
    local pid did
    pid=$($pm image inspect --format '{{.Id}}' "$ref")
    did=$(den image inspect --format '{{.Id}}' bb)
    assert_equal "sha256:$pid" "$did"
    $pm unshare rm -rf "$WORK/pm" "$pmrun" >/dev/null 2>&1 || true
    rm -rf "$pmrun" 2>/dev/null || true
    [[ -s $XDG_RUNTIME_DIR/libpod/tmp/pause.pid ]] && kill "$(cat "$XDG_RUNTIME_DIR/libpod/tmp/pause.pid")" 2>/dev/null || true
}

@test "SIGKILL of den mid-pull, and a registry that dies mid-pull, leave a store the next pull works with" {
    start_fake slow
    local ref=127.0.0.1:$FAKE_PORT/bad/img:1
    "$DEN" pull -q "$ref" >/dev/null 2>&1 &
    local pid=$!
    sleep 1
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    run_den images --format '{{.Repository}}'
    assert_success
    assert_output_not_contains "bad/img"
    # The registry goes away while den downloads: one clear error.
    "$DEN" pull -q "$ref" >"$WORK/out" 2>"$WORK/err" &
    pid=$!
    sleep 0.4
    kill "${REGS[-1]}"
    local status=0
    wait "$pid" || status=$?
    [[ $status -eq 125 ]] || fail "expected 125 when the registry died, got $status: $(cat "$WORK/err")"
    grep -q "127.0.0.1:$FAKE_PORT" "$WORK/err" || fail "the error does not name the registry: $(cat "$WORK/err")"
    # What arrived was kept...
    local part
    part=$(find "$GRAPHROOT/partial" -type f -size +0 | head -n1)
    [[ -n $part ]] || fail "no partial download was kept in $GRAPHROOT/partial"
    # ... and a good registry with the same image resumes it: the pull asks
    # for the rest only (Range), works and cleans up.
    start_fake ok
    run_den pull -q "127.0.0.1:$FAKE_PORT/bad/img:1"
    assert_success
    grep -Eq "^sha256:$(basename "$part") bytes=[1-9][0-9]*-\$" "$WORK/fake-ok/port.log" ||
        fail "the pull did not resume $(basename "$part"): $(cat "$WORK/fake-ok/port.log")"
    assert_no_staging_leftovers
    [[ -z $(ls -A "$GRAPHROOT/partial") ]] || fail "partial downloads left: $(ls -A "$GRAPHROOT/partial")"
    run_den run --rm --network none "127.0.0.1:$FAKE_PORT/bad/img:1" echo recovered
    assert_output recovered
}

@test "pull on a terminal draws per-layer bars; without one, plain lines" {
    start_registry r
    local ref=127.0.0.1:$r_PORT/bars/bb:1
    den tag bb "$ref"
    den push -q "$ref"
    den rmi "$ref" bb >/dev/null
    run script -qec "'$DEN' pull $ref" /dev/null
    [[ $status -eq 0 ]] || fail "pull on a pty failed: $output"
    [[ $output == *$'\x1b[2KCopying blob '*' done'* ]] || fail "no progress bar drawn: $(printf '%q' "$output")"
    den rmi "$ref" >/dev/null
    run_den pull "$ref"
    assert_success
    [[ $stderr != *$'\x1b'* ]] || fail "escape codes without a terminal"
    assert_stderr_contains "Copying blob"
}
