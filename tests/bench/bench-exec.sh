#!/usr/bin/env bash
# Benchmark (not a test): `exec` into a running container, den side by side
# with podman, and with an earlier den when BASE_DEN names one.
#   sudo tests/bench/bench-exec.sh                        # after tests/setup
#   sudo BASE_DEN=/path/to/old/den tests/bench/bench-exec.sh
# Measures, with hyperfine, as the unprivileged user dentest:
#   1. exec C true                (no stdio to relay)
#   2. exec C cat /etc/passwd     (output relayed to den's stdout)
#   3. exec -i C cat < 1 MiB      (stdin and stdout relayed)
# podman runs with runc and the cgroupfs manager (crun refuses this host's
# hybrid cgroup layout). Prints a table of medians and ratios.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
[[ $(id -u) -eq 0 ]] || { echo "run as root (it drops to dentest)" >&2; exit 1; }
bash tests/setup >/dev/null
command -v hyperfine >/dev/null || apt-get install -y hyperfine >/dev/null
BIN=${DEN_TEST_INSTALL_DIR:-/var/tmp/den-test}/bin
WORK=$(mktemp -d /tmp/den-bench.XXXXXX)
chown dentest: "$WORK"
chmod 0755 "$WORK"
RUNS=${RUNS:-30}
BASE=""
if [[ -n ${BASE_DEN:-} ]]; then
    install -m 0755 "$BASE_DEN" "$WORK/den-base"
    BASE="$WORK/den-base --root $WORK/den"
fi

as_user() { runuser -u dentest -- env -i HOME=/home/dentest USER=dentest PATH=$BIN:/usr/bin:/bin bash -c "$*"; }
cleanup() {
    as_user "den --root $WORK/den rm -f -t 0 bx >/dev/null 2>&1; podman --root $WORK/pm --runroot $WORK/pmrun rm -f -t 0 bx >/dev/null 2>&1" || true
    rm -rf "$WORK" 2>/dev/null || runuser -u dentest -- rm -rf "$WORK" || true
}
trap cleanup EXIT

as_user "
  set -e
  mkdir -p $WORK/root/bin $WORK/root/etc $WORK/root/tmp
  cp /bin/busybox $WORK/root/bin/
  for a in \$(/bin/busybox --list); do [ \$a = busybox ] || ln -sf busybox $WORK/root/bin/\$a; done
  echo 'root:x:0:0:root:/root:/bin/sh' > $WORK/root/etc/passwd
  tar -C $WORK/root --numeric-owner --owner=0 --group=0 -cf $WORK/bb.tar .
  head -c 1048576 /dev/urandom > $WORK/1m
  den --root $WORK/den import -c 'CMD [\"/bin/sh\"]' $WORK/bb.tar localhost/bb:1 >/dev/null
  den --root $WORK/den save -o $WORK/bb-image.tar localhost/bb:1
  den --root $WORK/den run -d --name bx --network none localhost/bb:1 sleep 1000 >/dev/null
"
D="den --root $WORK/den"
P=""
if command -v podman >/dev/null && command -v runc >/dev/null; then
    P="podman --root $WORK/pm --runroot $WORK/pmrun --storage-driver overlay --cgroup-manager cgroupfs --runtime runc"
    as_user "$P load -i $WORK/bb-image.tar >/dev/null 2>&1 && $P run -d --name bx --network none localhost/bb:1 sleep 1000 >/dev/null" ||
        P=""
fi

results=()
bench() { # name args-after-exec [stdin-file]
    local name=$1 args=$2 in=${3:-} json=$WORK/h.json cmds=() shell=-N
    cmds+=("$D exec $args")
    [[ -z $BASE ]] || cmds+=("$BASE exec $args")
    [[ -z $P ]] || cmds+=("$P exec $args")
    local quoted="" c
    # (Debian 12's hyperfine has no --input: a shell redirects, the same
    # shell for every command measured.)
    for c in "${cmds[@]}"; do quoted+=" '$c${in:+ <$in}'"; done
    [[ -z $in ]] || shell=""
    as_user "hyperfine $shell --warmup 3 --runs $RUNS --export-json $json $quoted" >/dev/null
    local row
    row=$(python3 - "$json" "${BASE:+1}" "${P:+1}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
has_base, has_p = sys.argv[2] == "1", sys.argv[3] == "1"
med = [x["median"] * 1000 for x in r]
d = med[0]
b = med[1] if has_base else None
p = med[1 + has_base] if has_p else None
f = lambda v: "-" if v is None else f"{v:.2f}"
print("|".join([f(d), f(b), f(p), "-" if b is None else f"{d / b:.3f}", "-" if p is None else f"{d / p:.3f}"]))
PY
)
    results+=("$name|$row")
}

bench "exec C true" "bx true"
bench "exec C cat /etc/passwd" "bx cat /etc/passwd"
bench "exec -i C cat (1 MiB in and out)" "-i bx cat" "$WORK/1m"

printf '\n%-34s %10s %10s %10s %10s %10s\n' "benchmark (median)" "den ms" "base ms" "podman ms" "den/base" "den/podman"
for r in "${results[@]}"; do
    IFS='|' read -r name d b p rb rp <<<"$r"
    printf '%-34s %10s %10s %10s %10s %10s\n' "$name" "$d" "$b" "$p" "$rb" "$rp"
done
