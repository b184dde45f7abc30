#!/usr/bin/env bash
# Benchmark (not a test): times, with hyperfine,
#   - `den images` with 100 images in the store,
#   - `den load` of a ~100 MB docker-archive (busybox rootfs layer plus a layer
#     holding a 100 MB file of random data),
# side by side with `podman images` / `podman load` when podman is installed
# (rootless, as the same user, with its own --root/--runroot in a temp dir).
# Prints a table of medians and the den/podman ratio.
#
# Run as root (it drops to the test user itself):
#   tests/bench/bench-images.sh
# Environment: DEN (default /var/tmp/den-test/bin/den; tests/setup is run when
# it is missing), BENCH_USER (default dentest), RUNS (default 10), IMAGES
# (default 100), LOAD_MB (default 100).
set -euo pipefail

cd "$(dirname "$(readlink -f "$0")")/../.."
REPO=$(pwd)
BENCH_USER=${BENCH_USER:-dentest}
DEN=${DEN:-/var/tmp/den-test/bin/den}
RUNS=${RUNS:-10}
IMAGES=${IMAGES:-100}
LOAD_MB=${LOAD_MB:-100}

[[ $(id -u) -eq 0 ]] || { echo "bench-images.sh: run as root (it drops to $BENCH_USER)" >&2; exit 1; }
if [[ ! -x $DEN || ! -f /var/tmp/den-test/system/helpers.bash ]] || ! id "$BENCH_USER" >/dev/null 2>&1; then
    bash "$REPO/tests/setup"
fi
command -v hyperfine >/dev/null || { echo "hyperfine is not installed (tests/setup installs it)" >&2; exit 1; }

W=$(mktemp -d /var/tmp/den-bench.XXXXXX)
chmod 0755 "$W"
chown "$BENCH_USER:" "$W"
cleanup() {
    # the stores hold files of subordinate ids; the inner script removed what
    # it could, root removes the rest
    rm -rf "$W"
}
trap cleanup EXIT

cat >"$W/bench-inner.sh" <<'INNER'
set -euo pipefail
W=$1
cd "$W"
bats_require_minimum_version() { :; }
BATS_TEST_DIRNAME=/var/tmp/den-test/system
BATS_FILE_TMPDIR=$W/cache
mkdir -p "$BATS_FILE_TMPDIR"
# shellcheck source=../system/helpers.bash
source /var/tmp/den-test/system/helpers.bash

export XDG_DATA_HOME=$W/den-data XDG_RUNTIME_DIR=$W/den-run XDG_CONFIG_HOME=$W/den-config
mkdir -p -m 0700 "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" "$XDG_CONFIG_HOME"

PM=$W/podman
HAVE_PODMAN=0
PM_DRIVER=
pm() {
    XDG_RUNTIME_DIR=$PM/xdg-run HOME=$PM/home XDG_CONFIG_HOME=$PM/home/.config \
        podman --root "$PM/root-$PM_DRIVER" --runroot "$PM/run-$PM_DRIVER" --storage-driver "$PM_DRIVER" \
        --cgroup-manager cgroupfs --events-backend file "$@"
}
if command -v podman >/dev/null; then
    mkdir -p "$PM/home"
    mkdir -p -m 0700 "$PM/xdg-run"
    for PM_DRIVER in overlay vfs; do
        if pm images >/dev/null 2>"$W/podman-$PM_DRIVER.err"; then
            HAVE_PODMAN=1
            break
        fi
    done
    if ((HAVE_PODMAN)); then
        echo "podman $(podman --version | awk '{print $3}') with the $PM_DRIVER storage driver"
    else
        echo "podman does not work here; timing den alone:"
        cat "$W"/podman-*.err
    fi
else
    echo "podman is not installed; timing den alone"
fi
# hyperfine runs commands through sh: give it the podman command line
PODMAN="env XDG_RUNTIME_DIR=$PM/xdg-run HOME=$PM/home XDG_CONFIG_HOME=$PM/home/.config podman --root $PM/root-$PM_DRIVER --runroot $PM/run-$PM_DRIVER --storage-driver $PM_DRIVER --cgroup-manager cgroupfs --events-backend file"

echo "preparing $IMAGES images..."
tar=$(busybox_tar)
for i in $(seq "$IMAGES"); do
    "$DEN" import -c "LABEL bench.n=$i" "$tar" "localhost/bench/img$i:latest" >/dev/null
    if ((HAVE_PODMAN)); then
        pm import --quiet -c "LABEL bench.n=$i" "$tar" "localhost/bench/img$i:latest" >/dev/null 2>&1
    fi
done
msg="den has $("$DEN" images -q | wc -l) images"
if ((HAVE_PODMAN)); then msg+=", podman has $(pm images -q | wc -l)"; fi
echo "$msg"

echo "preparing a ~$LOAD_MB MB archive..."
craft_tar "$W/big-layer.tar" <<EOF
dir data
file data/random.bin size=$((LOAD_MB * 1024 * 1024)) random=1
EOF
make_archive docker "$W/big.tar" --layer "$tar" --layer "$W/big-layer.tar" --tag localhost/bench/big:1 >/dev/null
rm -f "$W/big-layer.tar"
echo "archive: $(du -m "$W/big.tar" | cut -f1) MB"

HF=(hyperfine --style basic --runs "$RUNS")
"${HF[@]}" --warmup 2 --export-json "$W/images-den.json" -n "den images" "$DEN images"
if ((HAVE_PODMAN)); then
    "${HF[@]}" --warmup 2 --export-json "$W/images-podman.json" -n "podman images" "$PODMAN images"
fi
"${HF[@]}" --prepare "$DEN rmi -f localhost/bench/big:1 >/dev/null 2>&1 || true" \
    --export-json "$W/load-den.json" -n "den load" "$DEN load -i $W/big.tar"
if ((HAVE_PODMAN)); then
    "${HF[@]}" --prepare "$PODMAN rmi -f localhost/bench/big:1 >/dev/null 2>&1 || true" \
        --export-json "$W/load-podman.json" -n "podman load" "$PODMAN load -i $W/big.tar"
fi

python3 - "$W" "$IMAGES" "$LOAD_MB" <<'PY'
import json, os, sys
w, n, mb = sys.argv[1], sys.argv[2], sys.argv[3]
def median(name):
    p = os.path.join(w, name + ".json")
    if not os.path.exists(p):
        return None
    return json.load(open(p))["results"][0]["median"]
rows = [("images (%s images)" % n, "images"), ("load (%s MB archive)" % mb, "load")]
print()
print("%-24s %14s %14s %12s" % ("benchmark", "den median", "podman median", "den/podman"))
for label, key in rows:
    d, p = median(key + "-den"), median(key + "-podman")
    fmt = lambda v: "%.4f s" % v if v is not None else "-"
    ratio = "%.2f" % (d / p) if d is not None and p else "-"
    print("%-24s %14s %14s %12s" % (label, fmt(d), fmt(p), ratio))
PY

# clean up inside the user namespaces (layer files belong to subordinate ids)
"$DEN" unshare rm -rf "$XDG_DATA_HOME" >/dev/null 2>&1 || true
if ((HAVE_PODMAN)); then
    pm unshare rm -rf "$PM/root-$PM_DRIVER" "$PM/run-$PM_DRIVER" >/dev/null 2>&1 || true
    for pidf in "$PM/xdg-run/libpod/tmp/pause.pid"; do
        [[ -s $pidf ]] && kill "$(cat "$pidf")" 2>/dev/null || true
    done
fi
INNER

home=$(getent passwd "$BENCH_USER" | cut -d: -f6)
runuser -u "$BENCH_USER" -- env -i HOME="$home" USER="$BENCH_USER" LOGNAME="$BENCH_USER" \
    PATH=/var/tmp/den-test/bin:/usr/local/bin:/usr/bin:/bin \
    DEN="$DEN" IMAGES="$IMAGES" LOAD_MB="$LOAD_MB" RUNS="$RUNS" \
    bash "$W/bench-inner.sh" "$W" </dev/null
