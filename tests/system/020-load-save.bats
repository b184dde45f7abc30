#!/usr/bin/env bats
# den load (docker-archive, docker >= 25 layout, oci-archive; gzip; stdin) and
# den save (docker-archive, oci-archive, oci-dir), checked against archives made
# by hand (so expected image IDs are known) and by reading den's output.

load helpers

# describe_archive FILE : checks an image archive (docker-archive, oci-archive
# or oci-dir) for integrity and describes it, one line per fact:
#   format docker-archive|oci
#   image sha256:<config digest> tags=<json list>
#   layers <n>
# Exits non-zero (with the reason) if a config or layer does not match its
# digest / the config's diff_ids.
describe_archive() {
    python3 - "$1" <<'PY'
import gzip, hashlib, io, json, os, subprocess, sys, tarfile
path = sys.argv[1]
def sha(b): return "sha256:" + hashlib.sha256(b).hexdigest()
def decompress(b):
    if b[:2] == b"\x1f\x8b": return gzip.decompress(b)
    if b[:4] == b"\x28\xb5\x2f\xfd":
        return subprocess.run(["zstd", "-d", "-q", "-c"], input=b, stdout=subprocess.PIPE, check=True).stdout
    return b
if os.path.isdir(path):
    def read(name):
        with open(os.path.join(path, name), "rb") as f: return f.read()
    def exists(name): return os.path.exists(os.path.join(path, name))
else:
    data = open(path, "rb").read()
    if data[:2] == b"\x1f\x8b": data = gzip.decompress(data)
    tf = tarfile.open(fileobj=io.BytesIO(data))
    members = {(m.name[2:] if m.name.startswith("./") else m.name): m for m in tf.getmembers()}
    def read(name):
        m = members[name]
        f = tf.extractfile(m)
        if f is None: sys.exit("archive entry %s is not a file" % name)
        return f.read()
    def exists(name): return name in members
problems = []
def check_config(cfg, want):
    if sha(cfg) != want: problems.append("config digest %s != %s" % (sha(cfg), want))
    return json.loads(cfg)
if exists("manifest.json"):
    print("format docker-archive")
    man = json.loads(read("manifest.json"))
    for ent in man:
        cfgname = ent["Config"]
        cfg = read(cfgname)
        cid = sha(cfg)
        base = os.path.basename(cfgname)
        if base.split(".")[0] != cid[7:]:
            problems.append("config file %s is not named after its digest %s" % (cfgname, cid))
        conf = json.loads(cfg)
        diffs = conf["rootfs"]["diff_ids"]
        if len(diffs) != len(ent["Layers"]):
            problems.append("%d layers but %d diff_ids" % (len(ent["Layers"]), len(diffs)))
        for lname, d in zip(ent["Layers"], diffs):
            b = read(lname)
            if sha(b) != d:
                problems.append("layer %s has digest %s, config says %s (layer.tar must be uncompressed)" % (lname, sha(b), d))
        print("image %s tags=%s" % (cid, json.dumps(ent.get("RepoTags") or [])))
        print("layers %d" % len(ent["Layers"]))
elif exists("index.json"):
    print("format oci")
    if not exists("oci-layout"): problems.append("oci-layout missing")
    idx = json.loads(read("index.json"))
    def blob(d):
        algo, h = d["digest"].split(":")
        b = read("blobs/%s/%s" % (algo, h))
        if sha(b) != d["digest"]: problems.append("blob %s does not match its digest" % d["digest"])
        if "size" in d and d["size"] != len(b): problems.append("blob %s size %d != %d" % (d["digest"], len(b), d["size"]))
        return b
    for m in idx["manifests"]:
        man = json.loads(blob(m))
        conf = json.loads(blob(man["config"]))
        diffs = conf["rootfs"]["diff_ids"]
        for l, d in zip(man["layers"], diffs):
            if sha(decompress(blob(l))) != d:
                problems.append("layer %s does not uncompress to diff_id %s" % (l["digest"], d))
        if len(man["layers"]) != len(diffs):
            problems.append("%d layers but %d diff_ids" % (len(man["layers"]), len(diffs)))
        name = (m.get("annotations") or {}).get("org.opencontainers.image.ref.name")
        print("image %s tags=%s" % (man["config"]["digest"], json.dumps([name] if name else [])))
        print("layers %d" % len(man["layers"]))
else:
    sys.exit("neither manifest.json nor index.json in " + path)
if problems:
    sys.exit("\n".join(problems))
PY
}

@test "load a docker-archive (-i): 'Loaded image: bb:latest', the image ID is the config digest" {
    local a=$WORK/bb.tar id
    id=$(busybox_archive docker "$a" --tag bb:latest)

    run_den load -i "$a"
    assert_success
    assert_output 'Loaded image: bb:latest'

    run_den images --no-trunc -q
    assert_success
    assert_output "$id"

    run_den image inspect --format '{{.Id}} {{json .RepoTags}} {{json .RootFS.Layers}}' bb
    assert_success
    assert_output "$id [\"bb:latest\"] [\"$(sha256_of "$(busybox_tar)")\"]"

    run_den image inspect --format '{{json .Config.Cmd}} {{.Created}}' bb
    assert_success
    assert_output '["/bin/sh"] 2024-01-02T03:04:05Z'
    assert_no_staging_leftovers
}

@test "load from stdin" {
    local a=$WORK/bb.tar id
    id=$(busybox_archive docker "$a" --tag localhost/fromstdin:7)
    run_den load <"$a"
    assert_success
    assert_output 'Loaded image: localhost/fromstdin:7'
    run_den image inspect --format '{{.Id}}' localhost/fromstdin:7
    assert_success
    assert_output "$id"
}

@test "load a gzip-compressed docker-archive" {
    local a=$WORK/bb.tar.gz id
    id=$(busybox_archive docker "$a" --tag gz:1 --gzip)
    run_den load -i "$a"
    assert_success
    assert_output 'Loaded image: gz:1'
    run_den images --no-trunc -q
    assert_success
    assert_output "$id"
}

@test "load a docker >= 25 archive (blobs/sha256 layout with index.json)" {
    local a=$WORK/new.tar id
    id=$(busybox_archive docker-blobs "$a" --tag newdocker:latest)
    run_den load -i "$a"
    assert_success
    assert_output 'Loaded image: newdocker:latest'
    run_den image inspect --format '{{.Id}}' newdocker
    assert_success
    assert_output "$id"
}

@test "load an oci-archive with gzip and zstd layers" {
    local a=$WORK/oci.tar l2=$WORK/l2.tar.zst id
    craft_tar "$l2" <<'EOF'
dir opt
file opt/second-layer data=layer two
EOF
    id=$(make_archive oci "$a" --layer "$(busybox_tar tar.gz)" --layer "$l2" --tag localhost/ocibb:1)

    run_den load -i "$a"
    assert_success
    assert_output 'Loaded image: localhost/ocibb:1'

    run_den image inspect --format '{{.Id}} {{len .RootFS.Layers}}' localhost/ocibb:1
    assert_success
    assert_output "$id 2"

    # diff IDs are digests of the uncompressed layers
    zstd -q -d -c "$l2" >"$WORK/l2.tar"
    run_den image inspect --format '{{json .RootFS.Layers}}' localhost/ocibb:1
    assert_success
    assert_output "[\"$(sha256_of "$(busybox_tar)")\",\"$(sha256_of "$WORK/l2.tar")\"]"
}

@test "load an untagged archive: 'Loaded image ID: sha256:...'" {
    local a=$WORK/untagged.tar id
    id=$(busybox_archive docker "$a")
    run_den load -i "$a"
    assert_success
    assert_output "Loaded image ID: $id"
    run_den images
    assert_success
    assert_line_matches "^<none> +<none> +${id:7:12} +"
}

@test "load an archive with several tags prints one line per tag" {
    local a=$WORK/multi.tar id
    id=$(busybox_archive docker "$a" --tag bb:latest --tag bb:1.36 --tag quay.io/x/bb:v1)
    run_den load -i "$a"
    assert_success
    assert_output 'Loaded image: bb:latest
Loaded image: bb:1.36
Loaded image: quay.io/x/bb:v1'
    local ref
    for ref in bb bb:1.36 quay.io/x/bb:v1; do
        run_den image inspect --format '{{.Id}}' "$ref"
        assert_success
        assert_output "$id"
    done
}

@test "load -q prints only the result" {
    local a=$WORK/bb.tar
    busybox_archive docker "$a" --tag quiet:1 >/dev/null
    run_den load -q -i "$a"
    assert_success
    assert_output 'Loaded image: quiet:1'
}

@test "loading the same archive twice keeps one image" {
    local a=$WORK/bb.tar id
    id=$(busybox_archive docker "$a" --tag bb:latest)
    run_den load -i "$a"
    assert_success
    run_den load -i "$a"
    assert_success
    assert_output 'Loaded image: bb:latest'
    run_den images --no-trunc -q
    assert_success
    assert_output "$id"
    run_den images
    assert_line_count 2
}

@test "load a multi-layer image with a whiteout; layer contents are in the store" {
    local base=$WORK/base.tar top=$WORK/top.tar a=$WORK/wh.tar id
    craft_tar "$base" <<'EOF'
dir etc
file etc/keep data=keep
file etc/gone data=gone
dir var
dir var/cache
file var/cache/old data=old
EOF
    craft_tar "$top" <<'EOF'
dir etc
file etc/.wh.gone
dir var
dir var/cache
file var/cache/.wh..wh..opq
file var/cache/new data=new
EOF
    id=$(make_archive docker "$a" --layer "$base" --layer "$top" --tag wh:1)
    run_den load -i "$a"
    assert_success
    assert_output 'Loaded image: wh:1'
    run_den image inspect --format '{{json .RootFS.Layers}}' wh:1
    assert_success
    assert_output "[\"$(sha256_of "$base")\",\"$(sha256_of "$top")\"]"
    # the extracted top layer: the whiteout is an overlay whiteout (char 0/0),
    # the opaque directory keeps its content and no .wh. file is left
    run_den unshare sh -c "
        n=\$(find '$GRAPHROOT' -path '*/var/cache/new' -type f | head -n1)
        d=\${n%/var/cache/new}
        stat -c '%F %t:%T' \"\$d/etc/gone\"
        cat \"\$n\"; echo
        find \"\$d\" -name '.wh.*' | wc -l
    "
    assert_success
    assert_output 'character special file 0:0
new
0'
}

@test "save to stdout writes a docker-archive with the right digests and tags" {
    run_den import "$(busybox_tar)" bb
    assert_success
    local id=$output
    run_sh "'$DEN' save bb >'$WORK/out.tar'"
    assert_success
    assert_output ''

    run describe_archive "$WORK/out.tar"
    [[ $status -eq 0 ]] || fail "den save wrote a bad archive: $output"
    assert_output "format docker-archive
image $id tags=[\"bb:latest\"]
layers 1"
    assert_no_staging_leftovers
}

@test "save -o, rmi, load: same ID and tag" {
    run_den import -c 'CMD ["/bin/true"]' "$(busybox_tar)" localhost/round:trip
    assert_success
    local id=$output
    run_den save -o "$WORK/rt.tar" localhost/round:trip
    assert_success
    assert_output ''
    [[ -s $WORK/rt.tar ]] || fail "den save -o wrote nothing"

    run_den rmi localhost/round:trip
    assert_success
    run_den images -q
    assert_output ''

    run_den load -i "$WORK/rt.tar"
    assert_success
    assert_output 'Loaded image: localhost/round:trip'
    run_den image inspect --format '{{.Id}} {{json .Config.Cmd}}' localhost/round:trip
    assert_success
    assert_output "$id [\"/bin/true\"]"
}

@test "save of a loaded multi-layer image reproduces the original layers" {
    local base=$WORK/base.tar top=$WORK/top.tar a=$WORK/two.tar id
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
    id=$(make_archive docker "$a" --layer "$base" --layer "$top" --tag two:layers)
    run_den load -i "$a"
    assert_success

    run_den save -o "$WORK/saved.tar" two:layers
    assert_success
    run describe_archive "$WORK/saved.tar"
    [[ $status -eq 0 ]] || fail "den save wrote a bad archive: $output"
    assert_output "format docker-archive
image $id tags=[\"two:layers\"]
layers 2"
}

@test "save refuses to write an archive to a terminal" {
    run_den import "$(busybox_tar)" bb
    assert_success
    # script(1) gives den a pseudo-terminal as stdout
    DEN_LAST_CMD="script -qec 'den save bb' /dev/null"
    run timeout 60 script -qec "'$DEN' save bb" /dev/null
    assert_failure 125
    assert_output_contains 'Error: '
    [[ ${#output} -lt 2000 ]] || fail "den wrote ${#output} bytes to the terminal"
}

@test "save --format oci-archive, and load it back" {
    run_den import "$(busybox_tar)" localhost/oci:1
    assert_success
    local id=$output
    run_den save --format oci-archive -o "$WORK/oci.tar" localhost/oci:1
    assert_success

    run describe_archive "$WORK/oci.tar"
    [[ $status -eq 0 ]] || fail "den save wrote a bad oci-archive: $output"
    assert_line_matches "^format oci\$"
    assert_line_matches "^image $id tags="
    assert_line_matches '^layers 1$'

    run_den rmi localhost/oci:1
    assert_success
    run_den load -i "$WORK/oci.tar"
    assert_success
    assert_output 'Loaded image: localhost/oci:1'
    run_den image inspect --format '{{.Id}}' localhost/oci:1
    assert_success
    assert_output "$id"
}

@test "save --format oci-dir -o DIR writes an OCI layout directory" {
    run_den import "$(busybox_tar)" ocidir
    assert_success
    local id=$output d=$WORK/layout
    run_den save --format oci-dir -o "$d" ocidir
    assert_success
    [[ -f $d/oci-layout && -f $d/index.json && -f $d/blobs/sha256/${id#sha256:} ]] ||
        fail "missing oci-layout, index.json or the config blob in $d: $(find "$d" | head -20)"
    run describe_archive "$d"
    [[ $status -eq 0 ]] || fail "bad OCI layout: $output"
    assert_line_matches "^image $id "
}

@test "save --format oci-dir needs -o" {
    run_den import "$(busybox_tar)" ocidir
    assert_success
    run_den save --format oci-dir ocidir
    assert_den_error
}

@test "save several images into one archive and load them all" {
    run_den import "$(busybox_tar)" one
    assert_success
    local id1=$output
    run_den import -c 'CMD ["/bin/sh"]' "$(busybox_tar)" two:2
    assert_success
    local id2=$output
    run_den save -o "$WORK/both.tar" one two:2
    assert_success
    run describe_archive "$WORK/both.tar"
    [[ $status -eq 0 ]] || fail "bad archive: $output"
    assert_line_matches "^image $id1 tags=\\[\"one:latest\"\\]\$"
    assert_line_matches "^image $id2 tags=\\[\"two:2\"\\]\$"

    run_den rmi one two:2
    assert_success
    run_den load -i "$WORK/both.tar"
    assert_success
    assert_line_matches '^Loaded image: one:latest$'
    assert_line_matches '^Loaded image: two:2$'
    assert_line_count 2
    run_den images --no-trunc -q
    assert_success
    assert_equal "$(sort <<<"$output")" "$(printf '%s\n' "$id1" "$id2" | sort)" "image IDs after load"
}

@test "save an untagged image by ID; load gives 'Loaded image ID:'" {
    run_den import "$(busybox_tar)"
    assert_success
    local id=$output
    run_den save -o "$WORK/untagged.tar" "${id:7:12}"
    assert_success
    run describe_archive "$WORK/untagged.tar"
    [[ $status -eq 0 ]] || fail "bad archive: $output"
    assert_line_matches "^image $id tags=\\[\\]\$"

    run_den rmi "$id"
    assert_success
    run_den load -i "$WORK/untagged.tar"
    assert_success
    assert_output "Loaded image ID: $id"
}

@test "save rejects an unknown --format" {
    run_den import "$(busybox_tar)" bb
    assert_success
    run_den save --format zip -o "$WORK/x.zip" bb
    assert_den_error 'zip'
    [[ ! -e $WORK/x.zip ]] || fail "den save left $WORK/x.zip behind"
}
