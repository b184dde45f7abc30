#!/usr/bin/env bats
# den --version, den version, den --help, den info, store/runtime locations.

load helpers

@test "den --version and -v print 'den version X.Y.Z'" {
    run_den --version
    assert_success
    assert_output "den version $DEN_EXPECTED_VERSION"
    assert_stderr_empty

    run_den -v
    assert_success
    assert_output "den version $DEN_EXPECTED_VERSION"
}

@test "den version prints docker's client block" {
    run_den version
    assert_success
    assert_line_matches "^ *Version: +${DEN_EXPECTED_VERSION//./\\.}\$"
    assert_line_matches '^ *API Version: +[0-9][0-9.]*$'
    assert_line_matches "^ *OS/Arch: +linux/$(oci_arch)\$"
    # docker aligns the values in one column: "Version:      0.1.0"
    assert_line_matches "^Version: {6}${DEN_EXPECTED_VERSION//./\\.}\$"
}

@test "den version --format '{{.Client.Version}}'" {
    run_den version --format '{{.Client.Version}}'
    assert_success
    assert_output "$DEN_EXPECTED_VERSION"

    run_den version --format '{{.Client.Os}}/{{.Client.Arch}}'
    assert_success
    assert_output "linux/$(oci_arch)"
}

@test "den --help lists the image commands" {
    run_den --help
    assert_success
    local cmd
    for cmd in images image import load save tag rmi inspect info version unshare; do
        assert_line_matches "^ +$cmd( |\$)"
    done
}

@test "den help for one command: den images --help" {
    run_den images --help
    assert_success
    assert_output_contains "--quiet"
    assert_output_contains "--no-trunc"
    assert_output_contains "--filter"
}

@test "unknown command: one Error line, exit 125" {
    run_den frobnicate
    assert_den_error 'frobnicate'
}

@test "unknown global flag: one Error line, exit 125" {
    run_den --no-such-flag images
    assert_den_error 'no-such-flag'
}

@test "--log-level rejects a bad level" {
    run_den --log-level chatty info
    assert_den_error 'chatty|log.level'

    run_den --log-level debug version --format '{{.Client.Version}}'
    assert_success
    assert_output "$DEN_EXPECTED_VERSION"
}

@test "den info shows store, id mappings, cgroups and network helpers" {
    run_den info
    assert_success
    assert_line_matches "^ +graphRoot: $GRAPHROOT\$"
    assert_line_matches "^ +runRoot: $RUNROOT\$"
    assert_line_matches '^ +graphDriverName: overlay$'
    # overlay is either native or fuse-overlayfs; info tells which
    assert_line_matches 'native|fuse-overlayfs'
    # the user's subordinate range from /etc/subuid and /etc/subgid
    assert_output_contains 100000
    assert_output_contains 65536
    local cg=v1
    [[ $(stat -fc %T /sys/fs/cgroup) != cgroup2fs ]] || cg=v2
    assert_line_matches "^ +cgroupVersion: $cg\$"
    assert_output_contains slirp4netns
    assert_line_matches 'pasta|passt'
}

@test "den info --format json is JSON with the store paths and id ranges" {
    run_den info --format json
    assert_success
    local f=$WORK/info.json
    printf '%s\n' "$output" >"$f"
    run python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
vals = []
def walk(v):
    if isinstance(v, dict):
        for x in v.values(): walk(x)
    elif isinstance(v, list):
        for x in v: walk(x)
    else:
        vals.append(v)
walk(j)
for want in (sys.argv[2], sys.argv[3], "overlay", 100000, 65536):
    if want not in vals:
        sys.exit("value %r not found in den info JSON" % (want,))
' "$f" "$GRAPHROOT" "$RUNROOT"
    if [[ $status -ne 0 ]]; then
        cat "$f" >&2
        fail "$output"
    fi
}

@test "den info --format templates: Store and docker fields" {
    run_den info --format '{{.Store.GraphRoot}}'
    assert_success
    assert_output "$GRAPHROOT"

    run_den info --format '{{.Store.RunRoot}}'
    assert_success
    assert_output "$RUNROOT"

    run_den info --format '{{.Store.GraphDriverName}}'
    assert_success
    assert_output overlay

    run_den info --format '{{.Store.ImageStore.Number}}'
    assert_success
    assert_output 0

    # docker's names
    run_den info --format '{{.Driver}}|{{.DockerRootDir}}|{{.Images}}'
    assert_success
    assert_output "overlay|$GRAPHROOT|0"
}

@test "den info counts images" {
    run_den import "$(busybox_tar)" bb
    assert_success
    run_den tag bb bb:2
    assert_success
    run_den import "$(busybox_tar)"
    assert_success

    run_den info --format '{{.Store.ImageStore.Number}} {{.Images}}'
    assert_success
    assert_output "2 2"
}

@test "den info --format '{{.Host.IDMappings.UIDMap}}' shows the subordinate range" {
    run_den info --format '{{.Host.IDMappings.UIDMap}}'
    assert_success
    assert_output_contains "$(id -u)"
    assert_output_contains 100000
    assert_output_contains 65536

    run_den info --format '{{.Host.IDMappings.GIDMap}}'
    assert_success
    assert_output_contains 100000
}

@test "--root and --runroot override the store locations" {
    local g=$WORK/g r=$WORK/r
    run_den --root "$g" --runroot "$r" info --format '{{.Store.GraphRoot}} {{.Store.RunRoot}}'
    assert_success
    assert_output "$g $r"

    run_den --root "$g" --runroot "$r" import "$(busybox_tar)" rooted
    assert_success
    run_den --root "$g" --runroot "$r" images --format '{{.Repository}}'
    assert_success
    assert_output rooted
    # and nothing went to the default store
    run_den images -q
    assert_success
    assert_output ""
    den --root "$g" unshare rm -rf "$g" || true
}

@test "default graph root is ~/.local/share/den without XDG_DATA_HOME" {
    local home=$WORK/home
    mkdir -p "$home"
    run_sh "unset XDG_DATA_HOME; HOME='$home' '$DEN' info --format '{{.Store.GraphRoot}}'"
    assert_success
    assert_output "$home/.local/share/den"
}

@test "without XDG_RUNTIME_DIR the run root is /tmp/den-UID, mode 0700" {
    local uid
    uid=$(id -u)
    run_sh "unset XDG_RUNTIME_DIR; '$DEN' info --format '{{.Store.RunRoot}}'"
    assert_success
    # podman-style: the run root is the per-user runtime dir itself or a
    # "den" directory inside it
    [[ $output == "/tmp/den-$uid" || $output == "/tmp/den-$uid/"* ]] ||
        fail "run root '$output' is not under /tmp/den-$uid"

    # a command that needs the run root creates the fallback dir 0700, owned by us
    run_sh "unset XDG_RUNTIME_DIR; '$DEN' images"
    assert_success
    [[ -d /tmp/den-$uid ]] || fail "/tmp/den-$uid was not created"
    assert_equal "$(stat -c '%u %a' "/tmp/den-$uid")" "$uid 700" "owner and mode of /tmp/den-$uid"
}

@test "an XDG_RUNTIME_DIR owned by another user is refused" {
    # /var/tmp/den-test belongs to root (tests/setup); fall back to / if absent
    local foreign=/var/tmp/den-test
    [[ -d $foreign && $(stat -c %u "$foreign") -ne $(id -u) ]] || foreign=/
    run_sh "XDG_RUNTIME_DIR='$foreign' '$DEN' images"
    assert_den_error 'XDG_RUNTIME_DIR'
    assert_stderr_contains "$foreign"
}
