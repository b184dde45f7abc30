#!/usr/bin/env bash
# Benchmark (not a test): pull and push of a ~120 MB, 5-layer image through
# Debian's docker-registry on 127.0.0.1, timed with hyperfine:
#   den pull      vs  podman pull  vs  skopeo copy (to a dir: no extraction)
#                 vs  curl of the blobs (the raw copy speed)
#   den push      vs  podman push  (each run to a fresh repository)
# Prints medians, MB/s and the ratios.
#
#   sudo tests/bench/bench-pull.sh        (after tests/setup; RUNS=5, LAYER_MB=30)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
REPO=$(pwd)
BENCH_USER=${BENCH_USER:-dentest}
DEN=${DEN:-/var/tmp/den-test/bin/den}
RUNS=${RUNS:-5}
LAYER_MB=${LAYER_MB:-30}
[[ $(id -u) -eq 0 ]] || { echo "bench-pull.sh: run as root (it drops to $BENCH_USER)" >&2; exit 1; }
if [[ ! -x $DEN || ! -f /var/tmp/den-test/system/helpers.bash ]] || ! id "$BENCH_USER" >/dev/null 2>&1; then
    bash "$REPO/tests/setup"
fi
W=$(mktemp -d /var/tmp/den-bench-pull.XXXXXX)
chmod 0755 "$W"
chown "$BENCH_USER:" "$W"
trap 'rm -rf "$W"' EXIT

cat >"$W/inner.sh" <<'INNER'
set -euo pipefail
W=$1
cd "$W"
bats_require_minimum_version() { :; }
BATS_TEST_DIRNAME=/var/tmp/den-test/system
BATS_FILE_TMPDIR=$W/cache
mkdir -p "$BATS_FILE_TMPDIR"
source /var/tmp/den-test/system/helpers.bash
export XDG_DATA_HOME=$W/den-data XDG_RUNTIME_DIR=$W/den-run XDG_CONFIG_HOME=$W/den-config
mkdir -p -m 0700 "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$W/reg"
printf 'version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: "127.0.0.1:%s"}\n' \
    "$W/reg" "$port" >"$W/reg.yml"
docker-registry serve "$W/reg.yml" >"$W/reg.log" 2>&1 &
REG_PID=$!
trap 'kill $REG_PID 2>/dev/null || true' EXIT
for i in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
R=127.0.0.1:$port

echo "preparing a 5-layer image (busybox + 4 x $LAYER_MB MB of random data, gzip)..."
layers=(--layer "$(busybox_tar tar.gz)")
for n in 1 2 3 4; do
    craft_tar "$W/l$n.tar.gz" <<EOF
dir data$n
file data$n/random.bin size=$((LAYER_MB * 1024 * 1024)) random=1
EOF
    layers+=(--layer "$W/l$n.tar.gz")
done
make_archive docker "$W/big.tar" "${layers[@]}" --tag localhost/bench/big:1 >/dev/null
rm -f "$W"/l?.tar.gz
"$DEN" load -q -i "$W/big.tar" >/dev/null
"$DEN" push -q --tls-verify=false localhost/bench/big:1 "$R/bench/big:1"
MB=$(python3 -c "import sys; print(round(int(sys.argv[1]) / 1e6))" "$(stat -c %s "$W/big.tar")")
echo "image: $MB MB in the registry as $R/bench/big:1"

PM=$W/podman
PODMAN=
if command -v podman >/dev/null; then
    mkdir -p "$PM/home" && mkdir -p -m 0700 "$PM/run"
    PODMAN="env XDG_RUNTIME_DIR=$PM/run HOME=$PM/home podman --root $PM/root --runroot $PM/rr --storage-driver overlay --cgroup-manager cgroupfs --events-backend file"
    $PODMAN images >/dev/null 2>&1 || PODMAN=
fi

HF=(hyperfine --style basic --runs "$RUNS")
# Every run starts from a store without the image (its blobs and layers go
# with it), as podman's does.
"${HF[@]}" --prepare "$DEN rmi -f $R/bench/big:1 localhost/bench/big:1 >/dev/null 2>&1 || true" \
    --export-json "$W/pull-den.json" \
    -n "den pull" "$DEN pull -q --tls-verify=false $R/bench/big:1"
if [[ -n $PODMAN ]]; then
    "${HF[@]}" --prepare "$PODMAN rmi -f $R/bench/big:1 >/dev/null 2>&1 || true" --export-json "$W/pull-podman.json" \
        -n "podman pull" "$PODMAN pull -q --tls-verify=false $R/bench/big:1"
fi
if command -v skopeo >/dev/null; then
    "${HF[@]}" --prepare "rm -rf $W/skopeo-dir" --export-json "$W/pull-skopeo.json" \
        -n "skopeo copy" "skopeo copy -q --src-tls-verify=false docker://$R/bench/big:1 dir:$W/skopeo-dir"
fi
# The raw copy: every blob of the manifest, fetched with curl in parallel.
curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$R/v2/bench/big/manifests/1" >"$W/manifest.json"
python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print("\n".join([m["config"]["digest"]]+[l["digest"] for l in m["layers"]]))' \
    "$W/manifest.json" >"$W/digests"
cat >"$W/curl-all.sh" <<EOF
for d in \$(cat $W/digests); do curl -s -o $W/raw-\$d http://$R/v2/bench/big/blobs/\$d & done; wait; rm -f $W/raw-*
EOF
"${HF[@]}" --export-json "$W/pull-curl.json" -n "curl blobs" "bash $W/curl-all.sh"

echo 0 >"$W/n"
"$DEN" load -q -i "$W/big.tar" >/dev/null
"${HF[@]}" --prepare "echo \$((\$(cat $W/n) + 1)) > $W/n" --export-json "$W/push-den.json" \
    -n "den push" "$DEN push -q --tls-verify=false localhost/bench/big:1 $R/den\$(cat $W/n)/big:1"
if [[ -n $PODMAN ]]; then
    $PODMAN load -q -i "$W/big.tar" >/dev/null 2>&1
    "${HF[@]}" --prepare "echo \$((\$(cat $W/n) + 1)) > $W/n" --export-json "$W/push-podman.json" \
        -n "podman push" "$PODMAN push -q --tls-verify=false localhost/bench/big:1 $R/pm\$(cat $W/n)/big:1"
fi

python3 - "$W" "$MB" <<'PY'
import json, os, sys
w, mb = sys.argv[1], float(sys.argv[2])
def med(n):
    p = os.path.join(w, n + ".json")
    return json.load(open(p))["results"][0]["median"] if os.path.exists(p) else None
print()
print("%-14s %10s %10s %14s" % ("benchmark", "median s", "MB/s", "den / this"))
for group, names in (("pull", ["den", "podman", "skopeo", "curl"]), ("push", ["den", "podman"])):
    d = med(group + "-den")
    for n in names:
        m = med(group + "-" + n)
        if m is None:
            continue
        print("%-14s %10.3f %10.1f %14s" % (group + " " + n, m, mb / m, "%.2f" % (d / m) if d else "-"))
PY
"$DEN" unshare rm -rf "$XDG_DATA_HOME" >/dev/null 2>&1 || true
[[ -n $PODMAN ]] && $PODMAN unshare rm -rf "$PM/root" >/dev/null 2>&1 || true
if [[ -s $PM/run/libpod/tmp/pause.pid ]]; then kill "$(cat "$PM/run/libpod/tmp/pause.pid")" 2>/dev/null || true; fi
"$DEN" system migrate >/dev/null 2>&1 || true
INNER

home=$(getent passwd "$BENCH_USER" | cut -d: -f6)
runuser -u "$BENCH_USER" -- env -i HOME="$home" USER="$BENCH_USER" LOGNAME="$BENCH_USER" \
    PATH=/var/tmp/den-test/bin:/usr/local/bin:/usr/bin:/bin \
    DEN="$DEN" RUNS="$RUNS" LAYER_MB="$LAYER_MB" \
    bash "$W/inner.sh" "$W" </dev/null
