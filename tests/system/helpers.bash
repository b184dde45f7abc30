# Common helpers for den's bats system tests.
#
# Every test gets its own store: setup() points XDG_DATA_HOME, XDG_RUNTIME_DIR
# and XDG_CONFIG_HOME at fresh 0700 directories under $BATS_TEST_TMPDIR, so
# $GRAPHROOT ($XDG_DATA_HOME/den) and $RUNROOT ($XDG_RUNTIME_DIR/den) are
# private to the test. Images are built from what is installed on the machine
# (busybox-static, python3's tarfile): nothing is downloaded.
#
# Environment: DEN is the den binary to test (tests/run sets it); the tests run
# as an unprivileged user with subordinate ids (dentest), except those tagged
# "noids", which tests/run runs as dentest-noids.

bats_require_minimum_version 1.5.0

DEN=${DEN:-den}
# No single den command in these tests may take longer than this.
DEN_CMD_TIMEOUT=${DEN_CMD_TIMEOUT:-300}
# The version den is expected to report (tests/setup records meson's).
if [[ -z ${DEN_EXPECTED_VERSION:-} ]]; then
    DEN_EXPECTED_VERSION=$(cat "${BATS_TEST_DIRNAME}/../expected-version" 2>/dev/null || echo 0.1.0)
fi

# ---------------------------------------------------------------------------
# Per-test isolation

den_isolate() {
    export XDG_DATA_HOME=$BATS_TEST_TMPDIR/data
    export XDG_RUNTIME_DIR=$BATS_TEST_TMPDIR/run
    export XDG_CONFIG_HOME=$BATS_TEST_TMPDIR/config
    mkdir -p -m 0700 "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME"
    export GRAPHROOT=$XDG_DATA_HOME/den
    export RUNROOT=$XDG_RUNTIME_DIR/den
    export WORK=$BATS_TEST_TMPDIR/work
    mkdir -p "$WORK"
}

# Removes a test's store. Layer files belong to subordinate ids, so the removal
# runs inside den's user namespace; whatever is left is removed by tests/run
# (as root) when the whole run is over.
den_cleanup() {
    # Containers left by the test (running ones hold their monitors).
    if [[ -n ${XDG_DATA_HOME:-} && -d $XDG_DATA_HOME/den/containers ]]; then
        local ids
        ids=$(timeout 60 "$DEN" ps -aq </dev/null 2>/dev/null) || true
        [[ -z $ids ]] || timeout 60 "$DEN" rm -f $ids </dev/null >/dev/null 2>&1 || true
    fi
    # Pods left running (their infra containers are not removed by rm -f).
    if [[ -n ${XDG_DATA_HOME:-} && -d $XDG_DATA_HOME/den/pods ]]; then
        timeout 60 "$DEN" pod rm -af -t 0 </dev/null >/dev/null 2>&1 || true
    fi
    if [[ -n ${XDG_DATA_HOME:-} && -d $XDG_DATA_HOME ]]; then
        timeout 60 "$DEN" unshare rm -rf "$XDG_DATA_HOME/den" </dev/null >/dev/null 2>&1 || true
        rm -rf "$XDG_DATA_HOME" 2>/dev/null || true
    fi
    # Each run root of the test (the XDG one, and any given with --runroot)
    # has its own den-pause process, the holder of den's user namespace:
    # stop them. (A pause process whose pause.pid is gone also exits by
    # itself within 30 s.)
    local f
    while IFS= read -r f; do
        kill "$(cut -d' ' -f1 "$f")" 2>/dev/null || true
    done < <(find "${BATS_TEST_TMPDIR:-/nonexistent}" -name pause.pid 2>/dev/null)
}

setup() {
    den_isolate
    if declare -F local_setup >/dev/null; then local_setup; fi
}

teardown() {
    if declare -F local_teardown >/dev/null; then local_teardown; fi
    den_cleanup
}

# ---------------------------------------------------------------------------
# Running den

# den ARGS... : runs $DEN with a time limit (the store comes from the XDG_*
# variables set by den_isolate).
den() {
    timeout --kill-after=10 "$DEN_CMD_TIMEOUT" "$DEN" "$@"
}

# run_den ARGS... : `run` den, stdout in $output/$lines, stderr in $stderr.
# Stdin is inherited, so `run_den load <file` works.
run_den() {
    DEN_LAST_CMD="den $*"
    run --separate-stderr den "$@"
}

# run_sh 'shell command' : runs a shell snippet (for pipes and redirections) with
# stdout in $output and stderr in $stderr. $DEN is available in it.
run_sh() {
    DEN_LAST_CMD="sh: $1"
    run --separate-stderr timeout --kill-after=10 "$DEN_CMD_TIMEOUT" bash -c "$1"
}

_indent() { sed 's/^/    | /'; }

show_result() {
    {
        echo "command: ${DEN_LAST_CMD:-?}"
        echo "exit status: ${status:-?}"
        echo "stdout:"
        printf '%s\n' "${output:-}" | _indent
        echo "stderr:"
        printf '%s\n' "${stderr:-}" | _indent
    } >&2
}

fail() {
    printf 'FAIL: %s\n' "$@" >&2
    return 1
}

# ---------------------------------------------------------------------------
# Assertions on the last run_den / run_sh

assert_success() {
    if [[ $status -ne 0 ]]; then
        show_result
        fail "expected exit status 0, got $status"
    fi
}

# assert_failure [CODE]
assert_failure() {
    local want=${1:-}
    if [[ -n $want ]]; then
        if [[ $status -ne $want ]]; then
            show_result
            fail "expected exit status $want, got $status"
        fi
    elif [[ $status -eq 0 ]]; then
        show_result
        fail "expected a failure, got exit status 0"
    fi
}

# assert_output TEXT : stdout is exactly TEXT
assert_output() {
    if [[ $output != "$1" ]]; then
        show_result
        fail "expected stdout to be exactly:" "$(printf '%s\n' "$1" | _indent)"
    fi
}

assert_output_contains() {
    if [[ $output != *"$1"* ]]; then
        show_result
        fail "expected stdout to contain: '$1'"
    fi
}

assert_output_not_contains() {
    if [[ $output == *"$1"* ]]; then
        show_result
        fail "expected stdout NOT to contain: '$1'"
    fi
}

# assert_line_matches ERE : some stdout line matches the extended regex
assert_line_matches() {
    if ! printf '%s\n' "$output" | grep -Eq -- "$1"; then
        show_result
        fail "expected a stdout line matching /$1/"
    fi
}

assert_no_line_matches() {
    if printf '%s\n' "$output" | grep -Eq -- "$1"; then
        show_result
        fail "expected no stdout line matching /$1/"
    fi
}

# assert_all_lines_match ERE : every stdout line matches (and there is one)
assert_all_lines_match() {
    if [[ -z $output ]] || printf '%s\n' "$output" | grep -Evq -- "$1"; then
        show_result
        fail "expected every stdout line to match /$1/"
    fi
}

# assert_line_count N : stdout has exactly N lines (empty lines count too;
# empty output has 0 lines)
assert_line_count() {
    local n=0
    [[ -z $output ]] || n=$(printf '%s\n' "$output" | wc -l)
    if [[ $n -ne $1 ]]; then
        show_result
        fail "expected $1 stdout line(s), got $n"
    fi
}

assert_stderr_contains() {
    if [[ ${stderr:-} != *"$1"* ]]; then
        show_result
        fail "expected stderr to contain: '$1'"
    fi
}

# assert_stderr_matches ERE (case-insensitive)
assert_stderr_matches() {
    if ! printf '%s\n' "${stderr:-}" | grep -Eiq -- "$1"; then
        show_result
        fail "expected stderr to match /$1/ (case-insensitive)"
    fi
}

assert_stderr_empty() {
    if [[ -n ${stderr:-} ]]; then
        show_result
        fail "expected empty stderr"
    fi
}

# assert_equal ACTUAL EXPECTED [WHAT]
assert_equal() {
    if [[ $1 != "$2" ]]; then
        fail "${3:-value} differs" "expected: '$2'" "actual:   '$1'"
    fi
}

# assert_den_error [ERE] : the last command failed the way every den error
# must: exit status 125, nothing on stdout, exactly one stderr line of the form
# "Error: ...", matching ERE (case-insensitive) when given.
assert_den_error() {
    local n=0
    [[ -z ${stderr:-} ]] || n=$(printf '%s\n' "$stderr" | wc -l)
    if [[ $status -ne 125 ]]; then
        show_result
        fail "expected exit status 125, got $status"
    fi
    if [[ $n -ne 1 || $stderr != "Error: "?* ]]; then
        show_result
        fail "expected exactly one stderr line 'Error: ...', got $n line(s)"
    fi
    if [[ -n $output ]]; then
        show_result
        fail "expected no stdout on error"
    fi
    if [[ -n ${1:-} ]]; then
        assert_stderr_matches "$1"
    fi
}

# ---------------------------------------------------------------------------
# Store inspection

# One line per image name (or <none>): "REPO TAG sha256:ID", sorted; the
# CREATED column is left out since it changes with time.
store_snapshot() {
    den images -a --no-trunc 2>&1 | awk 'NR > 1 { print $1, $2, $3 }' | sort
}

# Asserts the staging area $GRAPHROOT/tmp is absent or empty.
assert_no_staging_leftovers() {
    local d=$GRAPHROOT/tmp left
    [[ -e $d ]] || return 0
    left=$(ls -A "$d" 2>/dev/null) || left=$(den unshare ls -A "$d" 2>&1)
    if [[ -n $left ]]; then
        fail "staging area $d is not empty after the command:" "$(printf '%s\n' "$left" | _indent)"
    fi
}

# Full image ID (sha256:...) of IMAGE via den image inspect.
image_id() {
    den image inspect --format '{{.Id}}' "$1"
}

# Finds files named NAME anywhere in the store (inside den's user namespace,
# since layer directories belong to subordinate ids).
store_find() {
    den unshare find "$GRAPHROOT" -name "$1" 2>/dev/null
}

# ---------------------------------------------------------------------------
# Image builders (no downloads: busybox-static and python3 only)

# make_busybox_rootfs DIR : busybox with its applet links, /etc/passwd and
# /etc/group with root and nobody, /tmp 1777.
make_busybox_rootfs() {
    local dir=$1 app
    mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,proc,sys,dev}
    cp /bin/busybox "$dir/bin/busybox"
    chmod 0755 "$dir/bin/busybox"
    for app in $("$dir/bin/busybox" --list-full); do
        [[ $app == bin/busybox ]] && continue
        mkdir -p "$dir/$(dirname "$app")"
        ln -sf /bin/busybox "$dir/$app"
    done
    printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
        'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$dir/etc/passwd"
    printf '%s\n' 'root:x:0:' 'nobody:x:65534:' >"$dir/etc/group"
    chmod 1777 "$dir/tmp"
    chmod 0700 "$dir/root"
}

# _compress FILE : compresses stdin to FILE according to FILE's extension.
_compress_to() {
    case $1 in
        *.gz | *.tgz) gzip -c >"$1" ;;
        *.zst) zstd -q -c >"$1" ;;
        *) cat >"$1" ;;
    esac
}

# make_rootfs_tar OUT [DIR] : a rootfs tarball of DIR (default: the cached
# busybox rootfs) owned by 0:0, gzip/zstd compressed for .gz/.tgz/.zst.
make_rootfs_tar() {
    local out=$1 dir=${2:-}
    [[ -n $dir ]] || dir=$(busybox_rootfs)
    tar --numeric-owner --owner=0 --group=0 --sort=name --mtime=@1700000000 \
        -C "$dir" -cf - . | _compress_to "$out"
}

# busybox_rootfs : path of the busybox rootfs, built once per test file.
busybox_rootfs() {
    local d=$BATS_FILE_TMPDIR/bbroot
    if [[ ! -x $d/bin/busybox ]]; then
        rm -rf "$d"
        make_busybox_rootfs "$d"
    fi
    echo "$d"
}

# busybox_tar [EXT] : path of a busybox rootfs tarball (tar, tar.gz, tar.zst),
# built once per test file.
busybox_tar() {
    local ext=${1:-tar} f
    f=$BATS_FILE_TMPDIR/busybox.$ext
    if [[ ! -s $f ]]; then
        make_rootfs_tar "$f.part.$ext"
        mv "$f.part.$ext" "$f"
    fi
    echo "$f"
}

# import_busybox [REF] : imports the busybox tarball, prints the image ID.
import_busybox() {
    den import "$(busybox_tar)" "$@"
}

# craft_tar OUT < SPEC : a tarball with exactly the given entries, for
# ownership, device, whiteout and path-safety tests. One entry per SPEC line:
#   dir PATH [mode=0755] [uid=0] [gid=0]
#   file PATH [data=TEXT] [size=N] [random=1] [mode=0644] [uid=0] [gid=0]
#   symlink PATH target=T        hardlink PATH target=T
#   chardev PATH major=1 minor=3  blockdev ...   fifo PATH
#   tree DIR                     (all of DIR, owned by 0:0, entries "./...")
# PATH is written as is (so "../x" or "/abs" really end up in the tar).
# OUT ending in .gz/.zst is compressed.
craft_tar() {
    python3 -c '
import io, os, sys, tarfile, gzip, subprocess
out = sys.argv[1]
buf = io.BytesIO()
tf = tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT)
def kv(fields):
    d = {}
    for f in fields:
        k, _, v = f.partition("=")
        d[k] = v
    return d
for raw in sys.stdin.read().splitlines():
    raw = raw.strip()
    if not raw or raw.startswith("#"):
        continue
    parts = raw.split(" ", 2)
    kind, path = parts[0], parts[1]
    rest = parts[2] if len(parts) > 2 else ""
    if kind == "tree":
        def owner0(ti):
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ""
            ti.mtime = 1700000000
            return ti
        tf.add(path, arcname=".", filter=owner0)
        continue
    # data=... takes the rest of the line
    if "data=" in rest:
        before, _, data = rest.partition("data=")
        opts = kv(before.split()); opts["data"] = data
    else:
        opts = kv(rest.split())
    ti = tarfile.TarInfo(path)
    ti.uid = int(opts.get("uid", 0)); ti.gid = int(opts.get("gid", 0))
    ti.mtime = 1700000000
    content = None
    if kind == "dir":
        ti.type = tarfile.DIRTYPE; ti.mode = int(opts.get("mode", "0755"), 8)
    elif kind == "file":
        ti.type = tarfile.REGTYPE; ti.mode = int(opts.get("mode", "0644"), 8)
        if "size" in opts:
            n = int(opts["size"])
            content = os.urandom(n) if opts.get("random") == "1" else b"\0" * n
        else:
            content = opts.get("data", "").encode()
        ti.size = len(content)
    elif kind == "symlink":
        ti.type = tarfile.SYMTYPE; ti.linkname = opts["target"]; ti.mode = 0o777
    elif kind == "hardlink":
        ti.type = tarfile.LNKTYPE; ti.linkname = opts["target"]; ti.mode = 0o644
    elif kind in ("chardev", "blockdev"):
        ti.type = tarfile.CHRTYPE if kind == "chardev" else tarfile.BLKTYPE
        ti.devmajor = int(opts.get("major", 0)); ti.devminor = int(opts.get("minor", 0))
        ti.mode = int(opts.get("mode", "0666"), 8)
    elif kind == "fifo":
        ti.type = tarfile.FIFOTYPE; ti.mode = int(opts.get("mode", "0644"), 8)
    else:
        sys.exit("craft_tar: unknown entry kind " + kind)
    tf.addfile(ti, io.BytesIO(content) if content is not None else None)
tf.close()
data = buf.getvalue()
if out.endswith((".gz", ".tgz")):
    data = gzip.compress(data, mtime=0)
elif out.endswith(".zst"):
    data = subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout
with open(out, "wb") as f:
    f.write(data)
' "$1"
}

# make_archive FORMAT OUT [options] : writes an image archive made by hand
# (independent of den save) and prints its image ID "sha256:<hex of config>".
# FORMAT: docker (docker save / podman save layout: <id>/layer.tar),
#         docker-blobs (docker >= 25 layout: blobs/sha256/..., plus oci-layout
#         and index.json), oci (oci-archive).
# Options:
#   --layer FILE        a layer tarball (plain or compressed), repeatable;
#                       docker formats store it uncompressed, oci as is
#   --tag REF           RepoTags entry (docker) / ref.name annotation (oci),
#                       repeatable; none means untagged
#   --config JSON       merged into the image config's "config" object
#   --created TIME      config "created" (default 2024-01-02T03:04:05Z)
#   --gzip              gzip the whole archive
#   --bad-diffid        config lists a wrong diff_id for the first layer
#   --missing-layer     manifest names a layer file that is not in the archive
#   --bad-digest        (oci) a blob's content does not match its digest
make_archive() {
    python3 -c '
import gzip, hashlib, io, json, subprocess, sys, tarfile
fmt, out = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
layers, tags, cfgextra = [], [], {}
created = "2024-01-02T03:04:05Z"
flags = set()
i = 0
while i < len(args):
    a = args[i]
    if a in ("--layer", "--tag", "--config", "--created"):
        v = args[i + 1]; i += 2
        if a == "--layer": layers.append(v)
        elif a == "--tag": tags.append(v)
        elif a == "--config": cfgextra.update(json.loads(v))
        else: created = v
    else:
        flags.add(a); i += 1
def sha(b): return hashlib.sha256(b).hexdigest()
def decompress(b):
    if b[:2] == b"\x1f\x8b": return gzip.decompress(b)
    if b[:4] == b"\x28\xb5\x2f\xfd":
        return subprocess.run(["zstd", "-d", "-q", "-c"], input=b, stdout=subprocess.PIPE, check=True).stdout
    return b
raw = [open(p, "rb").read() for p in layers]
plain = [decompress(b) for b in raw]
diff_ids = ["sha256:" + sha(b) for b in plain]
if "--bad-diffid" in flags and diff_ids:
    diff_ids[0] = "sha256:" + sha(b"not the layer")
config = {
    "architecture": "amd64", "os": "linux", "created": created,
    "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]},
    "rootfs": {"type": "layers", "diff_ids": diff_ids},
    "history": [{"created": created, "created_by": "den system tests, layer %d" % n} for n in range(len(layers))],
}
config["config"].update(cfgextra)
cfg = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
cfg_hex = sha(cfg)
files = []   # (name, bytes)
def add(name, data): files.append((name, data))
if fmt == "docker":
    add(cfg_hex + ".json", cfg)
    paths, parent = [], ""
    for n, b in enumerate(plain):
        lid = sha((parent + diff_ids[n]).encode())
        add(lid + "/VERSION", b"1.0")
        meta = {"id": lid, "created": created}
        if parent: meta["parent"] = parent
        add(lid + "/json", json.dumps(meta).encode())
        paths.append(lid + "/layer.tar")
        if not ("--missing-layer" in flags and n == 0):
            add(lid + "/layer.tar", b)
        parent = lid
    man = [{"Config": cfg_hex + ".json", "RepoTags": tags or None, "Layers": paths}]
    add("manifest.json", json.dumps(man).encode())
    if tags:
        repos = {}
        for t in tags:
            r, _, tg = t.rpartition(":")
            repos.setdefault(r, {})[tg] = parent
        add("repositories", json.dumps(repos).encode())
elif fmt == "docker-blobs":
    add("blobs/sha256/" + cfg_hex, cfg)
    lpaths, ldescs = [], []
    for n, b in enumerate(plain):
        h = sha(b)
        lpaths.append("blobs/sha256/" + h)
        ldescs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + h, "size": len(b)})
        if not ("--missing-layer" in flags and n == 0):
            add("blobs/sha256/" + h, b)
    om = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
          "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cfg_hex, "size": len(cfg)},
          "layers": ldescs}
    omb = json.dumps(om).encode()
    add("blobs/sha256/" + sha(omb), omb)
    desc = {"mediaType": om["mediaType"], "digest": "sha256:" + sha(omb), "size": len(omb)}
    if tags:
        desc["annotations"] = {"io.containerd.image.name": "docker.io/library/" + tags[0] if "/" not in tags[0] else tags[0],
                               "org.opencontainers.image.ref.name": tags[0].rpartition(":")[2]}
    add("index.json", json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [desc]}).encode())
    add("oci-layout", b"{\"imageLayoutVersion\": \"1.0.0\"}")
    add("manifest.json", json.dumps([{"Config": "blobs/sha256/" + cfg_hex, "RepoTags": tags or None, "Layers": lpaths}]).encode())
elif fmt == "oci":
    add("oci-layout", b"{\"imageLayoutVersion\": \"1.0.0\"}")
    add("blobs/sha256/" + cfg_hex, cfg)
    ldescs = []
    for n, b in enumerate(raw):
        h = sha(b)
        mt = "application/vnd.oci.image.layer.v1.tar"
        if b[:2] == b"\x1f\x8b": mt += "+gzip"
        elif b[:4] == b"\x28\xb5\x2f\xfd": mt += "+zstd"
        ldescs.append({"mediaType": mt, "digest": "sha256:" + h, "size": len(b)})
        if "--missing-layer" in flags and n == 0:
            continue
        if "--bad-digest" in flags and n == 0:
            b = b[:-1] + bytes([b[-1] ^ 1])
        add("blobs/sha256/" + h, b)
    om = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
          "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cfg_hex, "size": len(cfg)},
          "layers": ldescs}
    omb = json.dumps(om).encode()
    add("blobs/sha256/" + sha(omb), omb)
    mans = []
    for t in (tags or [None]):
        d = {"mediaType": om["mediaType"], "digest": "sha256:" + sha(omb), "size": len(omb)}
        if t: d["annotations"] = {"org.opencontainers.image.ref.name": t}
        mans.append(d)
    add("index.json", json.dumps({"schemaVersion": 2, "manifests": mans}).encode())
else:
    sys.exit("make_archive: unknown format " + fmt)
buf = io.BytesIO()
tf = tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT)
dirs = set()
for name, data in files:
    parts = name.split("/")[:-1]
    for k in range(1, len(parts) + 1):
        d = "/".join(parts[:k])
        if d not in dirs:
            dirs.add(d)
            ti = tarfile.TarInfo(d); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; ti.mtime = 1700000000
            tf.addfile(ti)
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = 0o644; ti.mtime = 1700000000
    tf.addfile(ti, io.BytesIO(data))
tf.close()
data = buf.getvalue()
if "--gzip" in flags:
    data = gzip.compress(data, mtime=0)
open(out, "wb").write(data)
print("sha256:" + cfg_hex)
' "$@"
}

# busybox_archive FORMAT OUT [options] : make_archive with the busybox layer.
busybox_archive() {
    local fmt=$1 out=$2
    shift 2
    make_archive "$fmt" "$out" --layer "$(busybox_tar)" "$@"
}

# json_get FILE|- PYTHON-EXPR : evaluates EXPR with the parsed JSON as `j`
# (e.g. json_get f.json 'j[0]["Config"]["Cmd"]') and prints it as JSON
# (strings bare).
json_get() {
    python3 -c '
import json, sys
src = sys.argv[1]
j = json.load(sys.stdin if src == "-" else open(src))
v = eval(sys.argv[2], {"j": j})
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))
' "$@"
}

# sha256 FILE : "sha256:<hex>"
sha256_of() {
    echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"
}

# Architecture name as docker/OCI spell it.
oci_arch() {
    case $(uname -m) in
        x86_64) echo amd64 ;;
        aarch64) echo arm64 ;;
        armv7l) echo arm ;;
        i?86) echo 386 ;;
        *) uname -m ;;
    esac
}

# wait_for N 'shell condition' : polls every 0.2 s for up to N seconds.
wait_for() {
    local n=$(($1 * 5)) i
    for ((i = 0; i < n; i++)); do
        eval "$2" && return 0
        sleep 0.2
    done
    return 1
}

# notify_listener SOCKET OUT : a fake systemd notify socket in the background
# ($BG_PID; the file's local_teardown kills it): each datagram goes to OUT,
# followed by a "---" line. It ends after 20 s without one.
notify_listener() {
    python3 - "$1" "$2" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
with open(sys.argv[2], "w") as f:
    try:
        while True:
            f.write(s.recv(4096).decode() + "\n---\n")
            f.flush()
    except socket.timeout:
        pass
PY
    BG_PID=$!
    wait_for 10 "[[ -S '$1' ]]"
}

# free_port : a host port that is free now (the kernel's choice).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# fetch URL : GET with retries while the server starts.
fetch() {
    local i out
    for i in $(seq 1 50); do
        if out=$(curl -sS --max-time 2 "$1" 2>/dev/null); then
            echo "$out"
            return 0
        fi
        sleep 0.1
    done
    curl -sS --max-time 2 "$1"
}

# pty_run ROWS COLS CMD... < STEPS : runs CMD on a new pseudo terminal of
# ROWS x COLS and follows STEPS (one a line): "send TEXT" (python escapes:
# \r, \x03), "expect REGEX" (in the output after the previous match; 20 s),
# "winsize R C" (resize, SIGWINCH), "sleep S". Then waits for CMD: status is
# its exit code, output the whole terminal output (99: a step failed).
pty_run() {
    DEN_LAST_CMD="pty: $*"
    run --separate-stderr timeout --kill-after=10 90 python3 "$BATS_TEST_DIRNAME/ptydrive.py" "$@"
}
