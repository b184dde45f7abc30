#!/usr/bin/env bats
# den import: rootfs tarballs (plain, gzip, zstd, stdin), --change, -m,
# reference normalization, what ends up in the store.

load helpers

ID_RE='^sha256:[0-9a-f]{64}$'

@test "import a plain tarball: prints the image ID, den images lists it" {
    run_den import "$(busybox_tar)" bb
    assert_success
    assert_line_count 1
    assert_all_lines_match "$ID_RE"
    local id=$output short=${output:7:12}

    run_den images
    assert_success
    assert_line_matches '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$'
    assert_line_matches "^bb +latest +$short +"
    assert_line_count 2

    run_den image inspect --format '{{.Id}}' bb
    assert_success
    assert_output "$id"
    assert_no_staging_leftovers
}

@test "import: the layer's diff ID is the sha256 of the uncompressed tarball (tar, gz, zst)" {
    local plain want
    plain=$(busybox_tar tar)
    want=$(sha256_of "$plain")
    local ext
    for ext in tar tar.gz tar.zst; do
        run_den import "$(busybox_tar "$ext")" "bb-${ext//./-}"
        assert_success
        assert_all_lines_match "$ID_RE"
        run_den image inspect --format '{{json .RootFS.Layers}}' "bb-${ext//./-}"
        assert_success
        assert_output "[\"$want\"]"
        run_den image inspect --format '{{.RootFS.Type}}' "bb-${ext//./-}"
        assert_success
        assert_output layers
    done
}

@test "import - reads the tarball from stdin" {
    run_den import - frompipe <"$(busybox_tar tar.gz)"
    assert_success
    assert_all_lines_match "$ID_RE"
    local id=$output

    run_den image inspect --format '{{.Id}} {{json .RepoTags}}' frompipe
    assert_success
    assert_output "$id [\"frompipe:latest\"]"
}

@test "import without a reference makes an untagged image" {
    run_den import "$(busybox_tar)"
    assert_success
    local id=$output

    run_den images
    assert_success
    assert_line_matches "^<none> +<none> +${id:7:12} +"

    run_den image inspect --format '{{json .RepoTags}}' "$id"
    assert_success
    assert_output '[]'
}

@test "import: image config basics (Architecture, Os, Created, Size)" {
    local before
    before=$(date -u +%s)
    run_den import "$(busybox_tar)" bb
    assert_success

    run_den image inspect --format '{{.Architecture}} {{.Os}}' bb
    assert_success
    assert_output "$(oci_arch) linux"

    run_den image inspect --format '{{.Created}}' bb
    assert_success
    local created=$output t
    t=$(date -u -d "$created" +%s) || fail "Created '$created' is not a date"
    ((t >= before - 5 && t <= $(date -u +%s) + 5)) || fail "Created '$created' is not now"

    # Size: at least the busybox binary, at most the tarball plus slack
    run_den image inspect --format '{{.Size}}' bb
    assert_success
    [[ $output =~ ^[0-9]+$ ]] || fail "Size '$output' is not a number"
    local bbsize tarsize
    bbsize=$(stat -c %s /bin/busybox)
    tarsize=$(stat -c %s "$(busybox_tar)")
    ((output >= bbsize && output <= tarsize + 1048576)) ||
        fail "Size $output not between $bbsize and $tarsize+1MiB"
}

@test "import --change in JSON form sets the config" {
    run_den import \
        -c 'CMD ["/bin/sh", "-c", "echo hi"]' \
        -c 'ENTRYPOINT ["/bin/env"]' \
        -c 'ENV A=b C="d e"' \
        -c 'WORKDIR /srv' \
        -c 'USER nobody' \
        -c 'EXPOSE 8080 53/udp' \
        -c 'LABEL org.example.k=v other="two words"' \
        -c 'VOLUME ["/data"]' \
        -c 'STOPSIGNAL SIGINT' \
        "$(busybox_tar)" changed
    assert_success
    assert_all_lines_match "$ID_RE"

    local tmpl
    tmpl='{{json .Config.Cmd}}|{{json .Config.Entrypoint}}|{{.Config.WorkingDir}}|{{.Config.User}}|{{.Config.StopSignal}}'
    run_den image inspect --format "$tmpl" changed
    assert_success
    assert_output '["/bin/sh","-c","echo hi"]|["/bin/env"]|/srv|nobody|SIGINT'

    run_den image inspect --format '{{json .Config.Env}}' changed
    assert_success
    assert_output_contains '"A=b"'
    assert_output_contains '"C=d e"'

    run_den image inspect --format '{{json .Config.ExposedPorts}}' changed
    assert_success
    assert_output '{"53/udp":{},"8080/tcp":{}}'

    run_den image inspect --format '{{json .Config.Labels}}' changed
    assert_success
    assert_output '{"org.example.k":"v","other":"two words"}'

    run_den image inspect --format '{{json .Config.Volumes}}' changed
    assert_success
    assert_output '{"/data":{}}'
}

@test "import --change in shell form wraps CMD and ENTRYPOINT in /bin/sh -c" {
    run_den import --change 'CMD echo hello world' --change 'ENTRYPOINT exec /bin/sh' \
        "$(busybox_tar)" shellform
    assert_success

    run_den image inspect --format '{{json .Config.Cmd}} {{json .Config.Entrypoint}}' shellform
    assert_success
    assert_output '["/bin/sh","-c","echo hello world"] ["/bin/sh","-c","exec /bin/sh"]'
}

@test "import --change ONBUILD and ENV in the old 'ENV k v' form" {
    run_den import -c 'ONBUILD RUN echo built' -c 'ENV GREETING hello there' "$(busybox_tar)" ob
    assert_success
    run_den image inspect --format '{{json .Config.OnBuild}}' ob
    assert_success
    assert_output '["RUN echo built"]'
    run_den image inspect --format '{{json .Config.Env}}' ob
    assert_success
    assert_output_contains '"GREETING=hello there"'
}

@test "import rejects an unknown --change instruction" {
    local before
    before=$(store_snapshot)
    run_den import -c 'FROM scratch' "$(busybox_tar)" nope
    assert_den_error 'FROM'
    assert_equal "$(store_snapshot)" "$before" "den images after the failed import"
    assert_no_staging_leftovers
}

@test "import -m sets the image comment" {
    run_den import -m 'imported by the den tests' "$(busybox_tar)" withmsg
    assert_success
    run_den image inspect --format '{{.Comment}}' withmsg
    assert_success
    assert_output 'imported by the den tests'
}

@test "import: references are normalized like docker" {
    local tar
    tar=$(busybox_tar)
    run_den import "$tar" bb
    assert_success
    run_den import "$tar" localhost/bb:1
    assert_success
    run_den import "$tar" quay.io/org/img:v2
    assert_success
    run_den import "$tar" docker.io/library/alpine:3
    assert_success
    run_den import "$tar" docker.io/someone/tool
    assert_success
    run_den import "$tar" localhost:5000/ns/app:dev
    assert_success

    run_den image inspect --format '{{json .RepoTags}}' bb localhost/bb:1 quay.io/org/img:v2 \
        alpine:3 someone/tool localhost:5000/ns/app:dev
    assert_success
    assert_output '["bb:latest"]
["localhost/bb:1"]
["quay.io/org/img:v2"]
["alpine:3"]
["someone/tool:latest"]
["localhost:5000/ns/app:dev"]'

    run_den images --format '{{.Repository}} {{.Tag}}'
    assert_success
    local want='alpine 3
bb latest
localhost/bb 1
localhost:5000/ns/app dev
quay.io/org/img v2
someone/tool latest'
    assert_equal "$(printf '%s\n' "$output" | sort)" "$want" "repositories and tags"

    # the fully qualified and the short spelling name the same image
    run_den image inspect --format '{{.Id}}' docker.io/library/bb:latest
    assert_success
    local a=$output
    run_den image inspect --format '{{.Id}}' bb
    assert_success
    assert_equal "$output" "$a" "ID of bb vs docker.io/library/bb:latest"
}

@test "import to an existing name moves the name to the new image" {
    run_den import "$(busybox_tar)" moving
    assert_success
    local old=$output
    sleep 1
    run_den import "$(busybox_tar tar.gz)" moving
    assert_success
    local new=$output
    [[ $old != "$new" ]] || fail "two imports at different times gave the same ID $old"

    run_den image inspect --format '{{.Id}}' moving
    assert_success
    assert_output "$new"

    run_den image inspect --format '{{json .RepoTags}}' "$old"
    assert_success
    assert_output '[]'
}

@test "import: files, symlinks, modes and owners land in the store" {
    local t=$WORK/special.tar
    craft_tar "$t" <<'EOF'
dir etc
file etc/motd data=hello from den
dir srv mode=0700 uid=1000 gid=1000
file srv/secret mode=0600 uid=1000 gid=1000 data=s3cret
file usr-bin-suid mode=4755 data=#!/bin/sh
symlink etc/link target=/etc/motd
hardlink etc/motd-hard target=etc/motd
fifo run-fifo
EOF
    run_den import "$t" special
    assert_success

    local g=$GRAPHROOT
    run_den unshare sh -c "
        set -e
        motd=\$(find '$g' -path '*/etc/motd' -type f | head -n1)
        d=\${motd%/etc/motd}
        cat \"\$d/etc/motd\"; echo
        stat -c '%n %u:%g %a' \"\$d/srv\" \"\$d/srv/secret\" \"\$d/usr-bin-suid\" | sed \"s|\$d/||\"
        readlink \"\$d/etc/link\"
        [ \"\$(stat -c %i \"\$d/etc/motd\")\" = \"\$(stat -c %i \"\$d/etc/motd-hard\")\" ] && echo hardlinked
        stat -c '%F' \"\$d/run-fifo\"
    "
    assert_success
    assert_output 'hello from den
srv 1000:1000 700
srv/secret 1000:1000 600
usr-bin-suid 0:0 4755
/etc/motd
hardlinked
fifo'
}

@test "import: busybox content is stored intact" {
    run_den import "$(busybox_tar tar.zst)" bb
    assert_success
    local g=$GRAPHROOT
    run_den unshare sh -c "
        f=\$(find '$g' -path '*/bin/busybox' -type f | head -n1)
        [ -n \"\$f\" ] || { echo 'bin/busybox not found in the store'; exit 1; }
        cmp \"\$f\" /bin/busybox && echo same
        readlink \"\${f%/bin/busybox}/bin/sh\"
    "
    assert_success
    assert_output 'same
/bin/busybox'
}

@test "import: tarballs without './' prefixes and with absolute names" {
    local t=$WORK/abs.tar
    craft_tar "$t" <<'EOF'
dir /opt
file /opt/abs-entry data=abs
file rel-entry data=rel
EOF
    run_den import "$t" absnames
    assert_success
    run_den unshare sh -c "find '$GRAPHROOT' -name abs-entry -o -name rel-entry | sed 's|.*/||' | sort"
    assert_success
    assert_output 'abs-entry
rel-entry'
}

@test "den image ls shows an imported image with a path-style name" {
    run_den import "$(busybox_tar)" x/y:z
    assert_success
    run_den image ls --format '{{.Repository}}:{{.Tag}}'
    assert_success
    assert_output 'x/y:z'
}
