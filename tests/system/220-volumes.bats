#!/usr/bin/env bats
# Volumes, bind mounts and moving files: volume create/ls/inspect/rm/prune/
# export/import, run -v/--mount/--volumes-from, copy-up, :ro/:U/:O, rm -v,
# cp both ways (running and stopped containers, symlinks planted by the
# container, malicious tars), and docker's volume backup/restore scenario.

load helpers

local_setup() {
    import_busybox bb >/dev/null
}

# out_json EXPR : the value at EXPR ('[0]["Name"]') of the JSON in $output.
out_json() {
    json_get - "j$1" <<<"$output"
}

# An image like nginx's: files at /srv/html (for copy-up), a VOLUME /cache.
import_web_image() {
    local root=$BATS_TEST_TMPDIR/webroot
    make_busybox_rootfs "$root"
    mkdir -p "$root/srv/html"
    echo "<h1>welcome</h1>" >"$root/srv/html/index.html"
    echo "css" >"$root/srv/html/style.css"
    make_rootfs_tar "$BATS_TEST_TMPDIR/web.tar" "$root"
    den import -c 'VOLUME /cache' "$BATS_TEST_TMPDIR/web.tar" web >/dev/null
}

# ---- volume commands -------------------------------------------------------------

@test "volume create, ls, inspect, rm" {
    run_den volume create --label team=a --label env=test data
    assert_success
    assert_output "data"
    run_den volume create other
    assert_success
    run_den volume ls
    assert_success
    assert_line_matches '^DRIVER +VOLUME NAME$'
    assert_line_matches '^local +data$'
    assert_line_matches '^local +other$'
    run_den volume ls -q -f label=team=a
    assert_output "data"
    run_den volume ls -q -f name=oth
    assert_output "other"
    run_den volume ls -q -f dangling=true
    assert_output "$(printf 'data\nother')"
    run_den volume ls --format '{{.Name}} {{.Driver}} {{.Scope}}'
    assert_output "$(printf 'data local local\nother local local')"

    run_den volume inspect data
    assert_success
    assert_equal "$(out_json '[0]["Name"]')" "data"
    assert_equal "$(out_json '[0]["Driver"]')" "local"
    assert_equal "$(out_json '[0]["Scope"]')" "local"
    assert_equal "$(out_json '[0]["Mountpoint"]')" "$GRAPHROOT/volumes/data/_data"
    assert_equal "$(out_json '[0]["Labels"]["team"]')" "a"
    [[ $(out_json '[0]["CreatedAt"]') =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]]
    run_den volume inspect -f '{{.Mountpoint}}' data
    assert_output "$GRAPHROOT/volumes/data/_data"
    # The data directory belongs to the user: root in the container.
    [[ $(stat -c %u "$GRAPHROOT/volumes/data/_data") == "$(id -u)" ]]

    # Creating an existing volume is fine (docker); bad names are not.
    run_den volume create data
    assert_success
    run_den volume create 'bad/name'
    assert_den_error 'invalid volume name "bad/name"'

    run_den volume rm data other
    assert_success
    assert_output "$(printf 'data\nother')"
    run_den volume ls -q
    assert_output ""
    run_den volume rm data
    assert_den_error 'no such volume: data'
    run_den volume rm -f data
    assert_success
    run_den volume inspect data
    assert_den_error 'no such volume: data'
    assert_no_staging_leftovers
}

@test "volume create: unknown driver and options are refused" {
    run_den volume create -d nfs v1
    assert_den_error 'unknown volume driver "nfs"'
    run_den volume create -o foo=bar v1
    assert_den_error 'invalid volume option "foo"'
    run_den run --rm --mount type=volume,src=v1,dst=/d,volume-driver=nfs bb true
    assert_den_error 'unknown volume driver "nfs"'
    run_den volume ls -q
    assert_output ""
}

@test "volume: a tmpfs volume (-o type=tmpfs)" {
    run_den volume create -o type=tmpfs -o device=tmpfs -o o=size=2m scratch
    assert_success
    run_den run --rm --network none -v scratch:/s bb sh -c 'grep " /s " /proc/mounts'
    assert_success
    assert_output_contains "tmpfs /s tmpfs"
    assert_output_contains "size=2048k"
}

# ---- named and anonymous volumes ----------------------------------------------------

@test "named volume: created on first use, data outlives containers" {
    run_den run --name one --network none -v appdata:/data bb sh -c 'echo kept > /data/f; chown 7:8 /data/f'
    assert_success
    run_den volume ls -q
    assert_output "appdata"
    run_den rm one
    assert_success
    # Deleted and recreated on the same named volume: the data is there.
    run_den run --rm --network none -v appdata:/data bb sh -c 'cat /data/f; stat -c %u:%g /data/f'
    assert_success
    assert_output "$(printf 'kept\n7:8')"
    run_den volume inspect -f '{{.Labels}}' appdata
    assert_output "map[]"
}

@test "anonymous volume: labelled anonymous, removed by rm -v and --rm, named ones kept" {
    run_den create --name c1 -v /data -v named1:/named bb true
    assert_success
    local anon
    anon=$(den inspect -f '{{range .Mounts}}{{if eq .Destination "/data"}}{{.Name}}{{end}}{{end}}' c1)
    [[ $anon =~ ^[0-9a-f]{64}$ ]]
    run_den volume inspect "$anon"
    assert_success
    assert_equal "$(out_json '[0]["Labels"]')" '{"com.docker.volume.anonymous": ""}'
    run_den inspect -f '{{json .Config.Volumes}}' c1
    assert_output '{"/data":{}}'
    run_den rm -v c1
    assert_success
    run_den volume ls -q
    assert_output "named1"

    # rm without -v keeps it.
    run_den create --name c2 -v /data bb true
    anon=$(den inspect -f '{{(index .Mounts 0).Name}}' c2)
    den rm c2 >/dev/null
    run_den volume ls -q
    assert_output_contains "$anon"

    # --rm takes it along.
    den volume prune -f >/dev/null
    run_den run --rm --network none -v /scratch bb sh -c 'echo x > /scratch/y'
    assert_success
    run_den volume ls -q
    assert_output "named1"
}

@test "inspect: Mounts like docker's" {
    mkdir -p "$WORK/host"
    run_den create --name m -v named2:/n:ro -v "$WORK/host:/h:rslave" --mount type=bind,src="$WORK/host",dst=/h2 bb true
    assert_success
    run_den inspect -f '{{json .Mounts}}' m
    assert_success
    local n='{"Type":"volume","Name":"named2","Source":"'$GRAPHROOT'/volumes/named2/_data","Driver":"local","Destination":"/n","Mode":"ro","RW":false,"Propagation":""}'
    local h='{"Type":"bind","Source":"'$WORK'/host","Destination":"/h","Mode":"","RW":true,"Propagation":"rslave"}'
    local h2='{"Type":"bind","Source":"'$WORK'/host","Destination":"/h2","Mode":"","RW":true,"Propagation":"rprivate"}'
    assert_output "[$n,$h,$h2]"
    run_den inspect -f '{{json .HostConfig.Binds}}' m
    assert_output '["named2:/n:ro","'$WORK'/host:/h:rslave","'$WORK'/host:/h2"]'
}

@test "copy-up: the image's files fill an empty named volume, not a used one, not a bind" {
    import_web_image
    run_den run --rm --network none -v html:/srv/html web cat /srv/html/index.html
    assert_success
    assert_output "<h1>welcome</h1>"
    # Owners and modes kept; the volume is not refilled once used.
    run_den run --rm --network none -v html:/srv/html web sh -c 'rm /srv/html/index.html; ls /srv/html'
    assert_output "style.css"
    run_den run --rm --network none -v html:/srv/html web ls /srv/html
    assert_output "style.css"
    # A volume that already has files gets nothing.
    den volume create mine >/dev/null
    den run --rm --network none -v mine:/x bb touch /x/own
    run_den run --rm --network none -v mine:/srv/html web ls /srv/html
    assert_output "own"
    # nocopy.
    run_den run --rm --network none -v fresh:/srv/html:nocopy web ls /srv/html
    assert_success
    assert_output ""
    # A bind mount hides the image's files.
    mkdir -p "$WORK/empty"
    run_den run --rm --network none -v "$WORK/empty:/srv/html" web ls /srv/html
    assert_output ""
    [[ -z $(ls -A "$WORK/empty") ]]
    # The image's VOLUME /cache became an anonymous volume.
    run_den create --name w web true
    run_den inspect -f '{{range .Mounts}}{{.Destination}} {{.Type}}{{end}}' w
    assert_output "/cache volume"
}

# ---- bind mounts ----------------------------------------------------------------------

@test "bind mount: -v creates a missing source, --mount refuses it; :ro refuses writes" {
    run_den run --rm --network none -v "$WORK/made/here:/h" bb sh -c 'echo from-ctr > /h/f'
    assert_success
    [[ -d $WORK/made/here ]]
    assert_equal "$(cat "$WORK/made/here/f")" "from-ctr"
    # Root in the container is the user on the host.
    assert_equal "$(stat -c %u "$WORK/made/here/f")" "$(id -u)"
    run_den run --rm --network none -v "$WORK/made/here:/h:ro" bb sh -c 'cat /h/f; echo x > /h/g'
    assert_failure 1
    assert_output "from-ctr"
    assert_stderr_contains "Read-only file system"
    [[ ! -e $WORK/made/here/g ]]
    run_den run --rm --network none --mount type=bind,src="$WORK/made/here",dst=/h,readonly bb sh -c 'touch /h/g'
    assert_failure 1
    run_den run --rm --network none --mount type=bind,src="$WORK/nope",dst=/h bb true
    assert_den_error "bind source path does not exist: $WORK/nope"
    [[ ! -e $WORK/nope ]]
    # A single file.
    echo filedata >"$WORK/single"
    run_den run --rm --network none -v "$WORK/single:/etc/single:ro" bb cat /etc/single
    assert_output "filedata"
    # z/Z are accepted (no SELinux here).
    run_den run --rm --network none -v "$WORK/made/here:/h:z" -v "$WORK/made/here:/h2:Z" bb cat /h2/f
    assert_output "from-ctr"
}

@test "bind mount: :U chowns to the container user, :O keeps the host unchanged" {
    mkdir -p "$WORK/u"
    echo a >"$WORK/u/file"
    run_den run --rm --network none -u 1000:1000 -v "$WORK/u:/u:U" bb sh -c 'stat -c %u:%g /u /u/file; echo ok > /u/new'
    assert_success
    assert_output "$(printf '1000:1000\n1000:1000')"
    run_den run --rm --network none -u 1000:1000 -v vu:/v:U bb sh -c 'stat -c %u /v; touch /v/x'
    assert_success
    assert_output "1000"

    mkdir -p "$WORK/lower"
    echo orig >"$WORK/lower/f"
    run_den run --rm --network none -v "$WORK/lower:/o:O" bb sh -c 'echo changed > /o/f; touch /o/new; cat /o/f'
    assert_success
    assert_output "changed"
    assert_equal "$(cat "$WORK/lower/f")" "orig"
    [[ ! -e $WORK/lower/new ]]
    den unshare chown -R 0:0 "$WORK/u"  # so that the test's files can be removed
}

@test "--mount: volume, tmpfs, read-only; --tmpfs and -v on one path conflict" {
    run_den run --rm --network none --mount type=volume,src=mv,dst=/mv --mount type=tmpfs,dst=/t,tmpfs-size=1m \
        bb sh -c 'echo 1 > /mv/a && grep " /t " /proc/mounts'
    assert_success
    assert_output_contains "size=1024k"
    run_den run --rm --network none --mount type=volume,src=mv,dst=/mv,ro bb sh -c 'cat /mv/a; touch /mv/b'
    assert_failure 1
    assert_output "1"
    run_den run --rm --network none --tmpfs /x -v /x bb true
    assert_den_error "duplicate mount point: /x"
    run_den volume ls -q
    assert_output "mv"
}

@test "--volumes-from: every mount, chains a->b->c, :ro" {
    mkdir -p "$WORK/b"
    run_den run --name a --network none -v /anon -v va:/named bb sh -c 'echo A > /anon/f; echo N > /named/f'
    assert_success
    run_den create --name b --volumes-from a -v "$WORK/b:/bind" bb true
    assert_success
    run_den run --name c --network none --volumes-from b:ro bb sh -c 'cat /anon/f /named/f; ls -d /bind; touch /named/x'
    assert_failure 1
    assert_output "$(printf 'A\nN\n/bind')"
    assert_stderr_contains "Read-only file system"
    # b's copies of a's anonymous volume are not b's: rm -v b keeps it.
    den rm -v b c >/dev/null
    run_den run --rm --network none --volumes-from a bb cat /anon/f
    assert_output "A"
    run_den run --rm --network none --volumes-from nosuch bb true
    assert_den_error "no such container: nosuch"
    run_den run --rm --network none --volumes-from a:zz bb true
    assert_den_error 'invalid --volumes-from "a:zz"'
}

@test "volume rm/prune: in-use volumes are kept, with the container named" {
    den create --name user1 -v keep:/k -v /anon1 bb true >/dev/null
    den volume create unused >/dev/null
    den run --rm --network none -v /gone bb true >/dev/null || true
    den create --name tmp -v /anon2 bb true >/dev/null
    local anon2
    anon2=$(den inspect -f '{{(index .Mounts 0).Name}}' tmp)
    den rm tmp >/dev/null
    run_den volume rm keep
    assert_den_error "volume keep is in use by container user1"
    run_den volume prune -f
    assert_success
    assert_output_contains "Deleted Volumes:"
    assert_output_contains "$anon2"
    assert_line_matches '^Total reclaimed space: '
    run_den volume ls -q
    assert_output_contains "keep"
    assert_output_contains "unused"
    [[ $output != *"$anon2"* ]]
    run_den volume ls -q -f dangling=false
    assert_line_count 2
    run_den volume prune -a -f
    assert_success
    assert_output_contains "unused"
    run_den volume ls -q
    assert_line_count 2
    assert_output_contains "keep"
}

@test "volume export and import round-trip, owners kept; malicious archives refused" {
    den run --rm --network none -v src:/d bb sh -c 'mkdir /d/sub; echo hi > /d/sub/f; chown 5:6 /d/sub/f; ln -s /etc/passwd /d/abs'
    run_sh '"$DEN" volume export src > "$WORK/v.tar"'
    assert_success
    tar -tvf "$WORK/v.tar" | grep -q 'sub/f'
    den volume create dst >/dev/null
    run_den volume import dst "$WORK/v.tar"
    assert_success
    run_den run --rm --network none -v dst:/d bb sh -c 'cat /d/sub/f; stat -c %u:%g /d/sub/f; readlink /d/abs'
    assert_output "$(printf 'hi\n5:6\n/etc/passwd')"
    gzip -c "$WORK/v.tar" >"$WORK/v.tar.gz"
    den volume create dst2 >/dev/null
    run_sh '"$DEN" volume import dst2 - < "$WORK/v.tar.gz"'
    assert_success

    mkdir -p "$WORK/outside"
    craft_tar "$WORK/dotdot.tar" <<<"file ../escape data=x"
    run_den volume import dst "$WORK/dotdot.tar"
    assert_den_error 'escapes the destination'
    craft_tar "$WORK/link.tar" <<EOT
symlink lnk target=$WORK/outside
file lnk/pwned data=x
EOT
    run_den volume import dst "$WORK/link.tar"
    assert_den_error 'lnk/pwned'
    [[ -z $(ls -A "$WORK/outside") ]]
    [[ ! -e $GRAPHROOT/volumes/escape ]]
}

# ---- bad input ------------------------------------------------------------------------

@test "bad -v and --mount input: one clear error, nothing created" {
    run_den run --rm -v relative/path:/x bb true
    assert_den_error 'relative host path'
    run_den run --rm -v ./here:/x bb true
    assert_den_error 'relative host path'
    run_den run --rm -v /h:x bb true
    assert_den_error 'must be absolute'
    run_den run --rm -v /a:/b:/c:/d bb true
    assert_den_error 'invalid volume specification'
    run_den run --rm -v /a:/b:bogus bb true
    assert_den_error 'unknown option "bogus"'
    run_den run --rm --mount type=nfs,dst=/x bb true
    assert_den_error 'type must be bind, volume or tmpfs'
    run_den run --rm --mount src=v,dst=/x,color=red bb true
    assert_den_error 'unknown key "color"'
    run_den volume ls -q
    assert_output ""
    run_den ps -aq
    assert_output ""
    [[ ! -e /h ]]
}

# ---- cp -------------------------------------------------------------------------------

@test "cp: both ways with a running and a stopped container, - forms" {
    mkdir -p "$WORK/dir/sub"
    echo one >"$WORK/dir/a"
    echo two >"$WORK/dir/sub/b"
    echo file >"$WORK/f"
    den run -d --name run1 --network none bb sleep 1000 >/dev/null
    den create --name stop1 bb true >/dev/null
    for c in run1 stop1; do
        run_den cp "$WORK/dir" "$c:/tmp"
        assert_success
        run_den cp "$WORK/f" "$c:/tmp/renamed"
        assert_success
        rm -rf "$WORK/out-$c"
        mkdir "$WORK/out-$c"
        run_den cp "$c:/tmp/dir" "$WORK/out-$c/"
        assert_success
        assert_equal "$(cat "$WORK/out-$c/dir/sub/b")" "two"
        run_den cp "$c:/tmp/renamed" "$WORK/out-$c/x"
        assert_success
        assert_equal "$(cat "$WORK/out-$c/x")" "file"
        assert_equal "$(stat -c %u "$WORK/out-$c/x")" "$(id -u)"
        # Contents of a directory with SRC/.
        run_den cp "$c:/tmp/dir/." "$WORK/out-$c/contents"
        assert_success
        assert_equal "$(cat "$WORK/out-$c/contents/a")" "one"
        # Tar out and in.
        run_sh "\"\$DEN\" cp $c:/tmp/dir - > \"$WORK/out-$c/d.tar\""
        assert_success
        tar -tf "$WORK/out-$c/d.tar" | grep -qx 'dir/sub/b'
        run_sh "\"\$DEN\" cp - $c:/root < \"$WORK/out-$c/d.tar\""
        assert_success
    done
    run_den exec run1 sh -c 'cat /tmp/dir/a /tmp/renamed /root/dir/sub/b; stat -c %u /tmp/dir/a'
    assert_output "$(printf 'one\nfile\ntwo\n0')"
    run_den start -a stop1
    den rm stop1 >/dev/null
    # Files copied into a stopped container are there when it runs.
    den create --name stop2 bb cat /root/f >/dev/null
    den cp "$WORK/f" stop2:/root/ >/dev/null
    run_den start -a stop2
    assert_success
    assert_output "file"
    # Into a volume of the container.
    den run -d --name withvol --network none -v cpvol:/data bb sleep 1000 >/dev/null
    den cp "$WORK/f" withvol:/data/ >/dev/null
    run_den run --rm --network none -v cpvol:/data bb cat /data/f
    assert_output "file"
}

@test "cp: errors for missing paths; symlinks planted by the container stay inside it" {
    mkdir -p "$WORK/target" "$WORK/hostdir"
    echo secret >"$WORK/hostdir/secret"
    echo data >"$WORK/f"
    den run -d --name evil --network none bb sh -c "ln -s $WORK/target /tmp/lnk; ln -s $WORK/hostdir /tmp/hd; ln -s / /tmp/root; sleep 1000" >/dev/null
    sleep 0.5
    run_den cp "$WORK/f" evil:/nonexistent/dir/
    assert_den_error 'does not exist'
    run_den cp evil:/nonexistent "$WORK/x"
    assert_den_error 'could not find the file /nonexistent in container evil'
    run_den cp "$WORK/f" nosuch:/tmp
    assert_den_error 'no such container: nosuch'
    # Through a symlink to a host path: resolved in the container, where the
    # path does not exist.
    run_den cp "$WORK/f" evil:/tmp/lnk/
    assert_failure 125
    [[ -z $(ls -A "$WORK/target") ]]
    run_den cp evil:/tmp/hd/secret "$WORK/stolen"
    assert_failure 125
    [[ ! -e $WORK/stolen ]]
    # A symlink to / means the container's root.
    run_den cp "$WORK/f" evil:/tmp/root/fromhost
    assert_success
    run_den exec evil cat /fromhost
    assert_output "data"
    # The symlink itself is copied, not followed, unless -L.
    run_den cp evil:/tmp/lnk "$WORK/lnkcopy"
    assert_success
    assert_equal "$(readlink "$WORK/lnkcopy")" "$WORK/target"
    # Malicious tars on stdin: .. entries and entries through symlinks.
    craft_tar "$WORK/dotdot.tar" <<<"file ../../escape data=x"
    run_sh '"$DEN" cp - evil:/tmp < "$WORK/dotdot.tar"'
    assert_failure 125
    assert_stderr_contains "escapes the destination"
    craft_tar "$WORK/through.tar" <<EOT
symlink out target=$WORK/target
file out/pwned data=x
EOT
    run_sh '"$DEN" cp - evil:/tmp < "$WORK/through.tar"'
    assert_failure 125
    assert_stderr_contains "out/pwned"
    [[ -z $(ls -A "$WORK/target") ]]
    # Copy out of a tar with an absolute symlink, extracted on the host: the
    # link is data, nothing is written through it.
    den exec evil sh -c "mkdir /tmp/d; ln -s $WORK/target /tmp/d/l" >/dev/null
    run_den cp evil:/tmp/d "$WORK/dcopy"
    assert_success
    [[ -L $WORK/dcopy/l ]]
    [[ -z $(ls -A "$WORK/target") ]]
    run_den cp "$WORK/f" "$WORK/g"
    assert_den_error 'must be a container path'
}

# ---- docker's backup/restore scenario, verbatim with docker = den ----------------------

@test "seed: back up a volume through --volumes-from and a bind mount, restore it elsewhere" {
    mkdir -p "$WORK/bin" "$WORK/backup"
    ln -s "$DEN" "$WORK/bin/docker"
    export PATH=$WORK/bin:$PATH
    cd "$WORK/backup"
    run_sh 'docker run -d --name app --network none -v appdata:/data bb sh -c "mkdir -p /data/sub; echo hello > /data/hello.txt; echo deep > /data/sub/deep.txt; sleep 1000"'
    assert_success
    sleep 0.5
    run_sh 'docker run --rm --network none --volumes-from app -v $(pwd):/backup bb tar -zcpvf /backup/backup.tar.gz /data'
    assert_success
    [[ -s $WORK/backup/backup.tar.gz ]]
    tar -tzf "$WORK/backup/backup.tar.gz" | grep -q 'data/sub/deep.txt'
    # Restore into another container's (anonymous) volume.
    run_sh 'docker run -d --name app2 --network none -v /data bb sleep 1000'
    assert_success
    run_sh 'docker run --rm --network none --volumes-from app2 -v $(pwd):/backup bb sh -c "cd / && tar -zxpvf /backup/backup.tar.gz"'
    assert_success
    run_sh 'docker exec app2 cat /data/hello.txt /data/sub/deep.txt'
    assert_success
    assert_output "$(printf 'hello\ndeep')"
    # Delete and recreate the container on the same named volume.
    run_sh 'docker rm -f app && docker run --rm --network none -v appdata:/data bb cat /data/hello.txt'
    assert_success
    assert_output "$(printf 'app\nhello')"
    run_sh 'docker volume inspect appdata'
    assert_success
    assert_equal "$(out_json '[0]["Driver"]')" "local"
    assert_equal "$(out_json '[0]["Mountpoint"]')" "$GRAPHROOT/volumes/appdata/_data"
    assert_output_contains '"CreatedAt": "'
    assert_output_contains '"Labels": {}'
    local anon
    anon=$(docker inspect -f '{{(index .Mounts 0).Name}}' app2)
    run_sh "docker volume inspect -f '{{json .Labels}}' $anon"
    assert_output '{"com.docker.volume.anonymous":""}'
}

# ---- commit / export round trip with volumes ------------------------------------------------

@test "commit then run the new image; export of a created container round-trips" {
    den run --name cm --network none -v cmvol:/vol bb sh -c 'echo layer > /in-layer; echo vol > /vol/in-volume' >/dev/null
    run_den commit -c 'CMD ["cat", "/in-layer"]' -m msg -a me cm committed
    assert_success
    run_den run --rm --network none committed
    assert_output "layer"
    # A volume's contents are not part of the image (docker).
    run_den run --rm --network none committed ls /vol
    assert_output ""
    run_den diff cm
    assert_line_matches '^A /in-layer$'
    mkdir -p "$WORK/out"
    run_sh '"$DEN" export $("$DEN" create committed) | tar -C "$WORK/out" -x'
    assert_success
    assert_equal "$(cat "$WORK/out/in-layer")" "layer"
}
