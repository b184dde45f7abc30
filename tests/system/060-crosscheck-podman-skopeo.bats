#!/usr/bin/env bats
# Cross-checks with podman and skopeo (skipped when they are missing): den's
# archives load into podman with the same image ID, skopeo accepts them, and
# podman's archives load into den with the same ID and names.
#
# podman runs rootless as the test user with its own --root/--runroot (vfs
# driver) and XDG_RUNTIME_DIR under this file's temp dir; its pause process is
# stopped in teardown_file.

load helpers

setup_file() {
    export PM=$BATS_FILE_TMPDIR/podman
    mkdir -p "$PM/home" "$PM/root"
    mkdir -p -m 0700 "$PM/xdg-run"
    # podman refuses a run root longer than 50 characters
    PM_RUN=$(mktemp -d /tmp/den-pm.XXXXXX)
    export PM_RUN
}

teardown_file() {
    if command -v podman >/dev/null; then
        pm unshare rm -rf "$PM/root" "$PM_RUN" >/dev/null 2>&1 || true
    fi
    local pidf
    for pidf in "$PM/xdg-run/libpod/tmp/pause.pid" "$PM_RUN/libpod/tmp/pause.pid"; do
        if [[ -s $pidf ]]; then
            kill "$(cat "$pidf")" 2>/dev/null || true
        fi
    done
    rm -rf "$PM_RUN" 2>/dev/null || true
}

pm() {
    XDG_RUNTIME_DIR=$PM/xdg-run HOME=$PM/home XDG_CONFIG_HOME=$PM/home/.config XDG_DATA_HOME=$PM/home/.local/share \
        timeout --kill-after=10 300 podman --root "$PM/root" --runroot "$PM_RUN" --storage-driver vfs \
        --cgroup-manager cgroupfs --events-backend file "$@"
}

run_pm() {
    DEN_LAST_CMD="podman $*"
    run --separate-stderr pm "$@"
}

need_podman() {
    command -v podman >/dev/null || skip "podman is not installed"
}

need_skopeo() {
    command -v skopeo >/dev/null || skip "skopeo is not installed"
}

local_teardown() {
    if command -v podman >/dev/null; then
        pm rmi -a -f >/dev/null 2>&1 || true
    fi
}

# podman image inspect's Id has no "sha256:" prefix
pm_id() {
    echo "sha256:$(pm image inspect --format '{{.Id}}' "$1" 2>/dev/null)"
}

@test "den save (docker-archive) -> podman load: same image ID" {
    need_podman
    run_den import -c 'CMD ["/bin/sh"]' -c 'ENV X=1' "$(busybox_tar)" bb
    assert_success
    local id=$output
    run_den save -o "$WORK/den.tar" bb
    assert_success

    run_pm load -i "$WORK/den.tar"
    assert_success
    # podman 4 names an unqualified "bb:latest" from an archive localhost/bb
    assert_line_matches '^Loaded image: (localhost/|docker\.io/library/)bb:latest$'
    local name=${output#Loaded image: }
    assert_equal "$(pm_id "$name")" "$id" "podman's ID of den's image"

    run_pm image inspect --format '{{json .Config.Cmd}} {{json .Config.Env}}' "$name"
    assert_success
    assert_output '["/bin/sh"] ["X=1"]'
}

@test "den save --format oci-archive -> podman load: same image ID" {
    need_podman
    run_den import "$(busybox_tar)" localhost/ocibb:1
    assert_success
    local id=$output
    run_den save --format oci-archive -o "$WORK/den-oci.tar" localhost/ocibb:1
    assert_success

    run_pm load -i "$WORK/den-oci.tar"
    assert_success
    assert_equal "$(pm_id localhost/ocibb:1)" "$id" "podman's ID of den's OCI image"
}

@test "den save of a multi-layer image with whiteouts -> podman load: same ID" {
    need_podman
    local base=$WORK/base.tar top=$WORK/top.tar id
    craft_tar "$base" <<'EOF'
dir etc
file etc/a data=a
file etc/b data=b
EOF
    craft_tar "$top" <<'EOF'
dir etc
file etc/.wh.b
file etc/c data=c
EOF
    id=$(make_archive docker "$WORK/two.tar" --layer "$(busybox_tar)" --layer "$base" --layer "$top" --tag localhost/three:1)
    run_den load -i "$WORK/two.tar"
    assert_success
    run_den save -o "$WORK/den.tar" localhost/three:1
    assert_success
    run_pm load -i "$WORK/den.tar"
    assert_success
    assert_equal "$(pm_id localhost/three:1)" "$id" "podman's ID"
}

@test "skopeo inspect docker-archive: accepts den's output and reports den's layers" {
    need_skopeo
    run_den import "$(busybox_tar)" bb
    assert_success
    local id=$output
    run_den image inspect --format '{{json .RootFS.Layers}}' bb
    assert_success
    local layers=$output
    run_den save -o "$WORK/den.tar" bb
    assert_success

    DEN_LAST_CMD="skopeo inspect docker-archive:$WORK/den.tar"
    run --separate-stderr skopeo inspect "docker-archive:$WORK/den.tar"
    assert_success
    printf '%s\n' "$output" >"$WORK/skopeo.json"
    assert_equal "$(json_get "$WORK/skopeo.json" 'j["Layers"]')" "${layers//,/, }" "skopeo's Layers"
    assert_equal "$(json_get "$WORK/skopeo.json" 'j["Architecture"] + "/" + j["Os"]')" "$(oci_arch)/linux" "skopeo's platform"

    # the raw config skopeo reads is the one whose digest is the image ID
    DEN_LAST_CMD="skopeo inspect --raw --config docker-archive:$WORK/den.tar"
    run --separate-stderr skopeo inspect --raw --config "docker-archive:$WORK/den.tar"
    assert_success
    printf '%s' "$output" >"$WORK/config.json"
    assert_equal "$(sha256_of "$WORK/config.json")" "$id" "digest of the config skopeo reads"
}

@test "skopeo inspect oci-archive: and oci: accept den's output" {
    need_skopeo
    run_den import "$(busybox_tar)" localhost/bb:oci
    assert_success
    local id=$output
    run_den image inspect --format '{{json .RootFS.Layers}}' localhost/bb:oci
    local layers=$output
    run_den save --format oci-archive -o "$WORK/den-oci.tar" localhost/bb:oci
    assert_success
    run_den save --format oci-dir -o "$WORK/den-oci-dir" localhost/bb:oci
    assert_success

    local src
    for src in "oci-archive:$WORK/den-oci.tar" "oci:$WORK/den-oci-dir"; do
        DEN_LAST_CMD="skopeo inspect --config $src"
        run --separate-stderr skopeo inspect --config "$src"
        assert_success
        printf '%s\n' "$output" >"$WORK/cfg.json"
        assert_equal "$(json_get "$WORK/cfg.json" 'j["rootfs"]["diff_ids"]')" "${layers//,/, }" "diff_ids skopeo reads from $src"

        DEN_LAST_CMD="skopeo inspect --raw --config $src"
        run --separate-stderr skopeo inspect --raw --config "$src"
        assert_success
        printf '%s' "$output" >"$WORK/raw.json"
        assert_equal "$(sha256_of "$WORK/raw.json")" "$id" "config digest from $src"
    done
}

@test "podman save (docker-archive) -> den load: same ID and RepoTags" {
    need_podman
    run_pm import --change 'CMD ["/bin/sh"]' "$(busybox_tar)" docker.io/library/pbb:latest
    assert_success
    local id
    id=$(pm_id docker.io/library/pbb:latest)
    run_pm save -o "$WORK/podman.tar" docker.io/library/pbb:latest
    assert_success

    run_den load -i "$WORK/podman.tar"
    assert_success
    assert_output 'Loaded image: pbb:latest'
    run_den image inspect --format '{{.Id}} {{json .RepoTags}} {{json .Config.Cmd}}' pbb
    assert_success
    assert_output "$id [\"pbb:latest\"] [\"/bin/sh\"]"
}

@test "podman save --format oci-archive -> den load: same ID and RepoTags" {
    need_podman
    run_pm import "$(busybox_tar)" localhost/pbb:1
    assert_success
    local id
    id=$(pm_id localhost/pbb:1)
    run_pm save --format oci-archive -o "$WORK/podman-oci.tar" localhost/pbb:1
    assert_success

    run_den load -i "$WORK/podman-oci.tar"
    assert_success
    assert_output 'Loaded image: localhost/pbb:1'
    run_den image inspect --format '{{.Id}} {{json .RepoTags}}' localhost/pbb:1
    assert_success
    assert_output "$id [\"localhost/pbb:1\"]"
}

@test "podman save -> den load -> den save -> podman load keeps the ID" {
    need_podman
    run_pm import "$(busybox_tar tar.gz)" localhost/ping:pong
    assert_success
    local id
    id=$(pm_id localhost/ping:pong)
    run_pm save -o "$WORK/p1.tar" localhost/ping:pong
    assert_success
    run_den load -i "$WORK/p1.tar"
    assert_success
    run_den save -o "$WORK/d1.tar" localhost/ping:pong
    assert_success
    run_pm rmi -f localhost/ping:pong
    assert_success
    run_pm load -i "$WORK/d1.tar"
    assert_success
    assert_equal "$(pm_id localhost/ping:pong)" "$id" "ID after the round trip"
}

@test "den and podman agree on image IDs of the same archive" {
    need_podman
    local a=$WORK/hand.tar id
    id=$(busybox_archive docker "$a" --tag localhost/hand:1 --config '{"WorkingDir":"/tmp","Labels":{"a":"b"}}')
    run_den load -i "$a"
    assert_success
    run_pm load -i "$a"
    assert_success
    assert_equal "$(pm_id localhost/hand:1)" "$id" "podman's ID"
    assert_equal "$(den image inspect --format '{{.Id}}' localhost/hand:1)" "$id" "den's ID"
    assert_equal "$(den image inspect --format '{{.Config.WorkingDir}} {{json .Config.Labels}}' localhost/hand:1)" \
        "$(pm image inspect --format '{{.Config.WorkingDir}} {{json .Config.Labels}}' localhost/hand:1)" "config seen by den and podman"
}
