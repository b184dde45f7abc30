#!/usr/bin/env bats
# den unshare: root in den's user namespace with the user's subordinate ids
# mapped; exit codes; ownership of layer files inside and outside.

load helpers

# subid_range FILE : "START COUNT" of the current user in /etc/subuid|subgid
subid_range() {
    awk -F: -v n="$(id -un)" -v u="$(id -u)" '$1 == n || $1 == u { print $2, $3; exit }' "$1"
}

@test "den unshare id: root inside" {
    run_den unshare id -u
    assert_success
    assert_output 0
    run_den unshare id -g
    assert_success
    assert_output 0
}

@test "den unshare maps the user and the subordinate range" {
    local su sg
    su=$(subid_range /etc/subuid)
    sg=$(subid_range /etc/subgid)
    [[ -n $su && -n $sg ]] || skip "no subordinate ids for $(id -un)"

    run_den unshare cat /proc/self/uid_map
    assert_success
    assert_equal "$(awk '{ print $1, $2, $3 }' <<<"$output")" "0 $(id -u) 1
1 $su" "uid_map"

    run_den unshare cat /proc/self/gid_map
    assert_success
    assert_equal "$(awk '{ print $1, $2, $3 }' <<<"$output")" "0 $(id -g) 1
1 $sg" "gid_map"
}

@test "den unshare uses the configured 100000:65536 range of dentest" {
    [[ $(id -un) == dentest ]] || skip "only for the dentest user"
    run_den unshare cat /proc/self/uid_map
    assert_success
    assert_line_matches '^ +1 +100000 +65536$'
}

@test "den unshare has full capabilities in its namespace" {
    run_den unshare grep '^CapEff:' /proc/self/status
    assert_success
    [[ $output =~ ^CapEff:[[:space:]]+([0-9a-f]+)$ ]] || fail "unexpected: $output"
    [[ ${BASH_REMATCH[1]} =~ [1-9a-f] ]] || fail "no effective capabilities inside den unshare: $output"
}

@test "den unshare returns the command's exit code" {
    run_den unshare sh -c 'exit 7'
    assert_failure 7
    run_den unshare false
    assert_failure 1
    run_den unshare true
    assert_success
}

@test "den unshare: a command killed by a signal gives 128+N" {
    run_den unshare sh -c 'kill -TERM $$'
    assert_failure 143
}

@test "den unshare of a missing command exits 127 with an error" {
    run_den unshare /no/such/command
    assert_failure 127
    assert_stderr_contains '/no/such/command'
}

@test "den unshare without a command runs \$SHELL" {
    run_sh "echo 'id -u; exit 3' | SHELL=/bin/sh '$DEN' unshare"
    assert_failure 3
    assert_output 0
}

@test "den unshare passes the environment, stdin and the working directory" {
    cd "$WORK"
    run_sh "echo from-stdin | FOO=bar '$DEN' unshare sh -c 'read x; echo \$x \$FOO \$(pwd)'"
    assert_success
    assert_output "from-stdin bar $WORK"
}

@test "layer files: image owners inside den unshare, subordinate ids outside" {
    local su start
    su=$(subid_range /etc/subuid)
    [[ -n $su ]] || skip "no subordinate ids for $(id -un)"
    start=${su% *}
    local t=$WORK/owners.tar
    craft_tar "$t" <<'EOF'
dir owners
file owners/by-root data=0
file owners/by-1000 uid=1000 gid=1000 data=1000
file owners/by-nobody uid=65534 gid=65534 data=65534
dir owners/dir-1 uid=1 gid=1
EOF
    run_den import "$t" owners
    assert_success

    local g=$GRAPHROOT
    run_den unshare sh -c "
        f=\$(find '$g' -path '*/owners/by-root' | head -n1)
        d=\${f%/by-root}
        echo \$d
        cd \$d && stat -c '%n %u:%g' by-root by-1000 by-nobody dir-1
    "
    assert_success
    local dir
    dir=$(head -n1 <<<"$output")
    assert_equal "$(tail -n +2 <<<"$output")" "by-root 0:0
by-1000 1000:1000
by-nobody 65534:65534
dir-1 1:1" "owners inside den unshare"

    # outside: root is the user, uid N>0 is subuid start + N - 1
    local out
    out=$(cd "$dir" && stat -c '%n %u' by-root by-1000 by-nobody dir-1)
    assert_equal "$out" "by-root $(id -u)
by-1000 $((start + 999))
by-nobody $((start + 65533))
dir-1 $start" "owners outside"
}

@test "files created in den unshare belong to the user outside" {
    run_den unshare touch "$WORK/made-inside"
    assert_success
    assert_equal "$(stat -c %u "$WORK/made-inside")" "$(id -u)" "owner of a file made as root inside"
}

@test "den unshare works without XDG_RUNTIME_DIR" {
    run_sh "unset XDG_RUNTIME_DIR; '$DEN' unshare id -u"
    assert_success
    assert_output 0
}
