#!/usr/bin/env bash
# Benchmark (not a test): container life cycle, den side by side with podman.
#   sudo tests/bench/bench-run.sh            # after tests/setup
# Measures, with hyperfine, as the unprivileged user dentest:
#   1. run --rm --network none bb true
#   2. run -d + exec + rm -f   (exec only when den has it)
#   3. ps -a with 100 and 1000 containers (PS_COUNTS="100 1000"; RUNS=10)
# podman runs with runc and the cgroupfs manager: crun refuses this host's
# hybrid cgroup layout. Prints a table of medians and den/podman ratios.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
[[ $(id -u) -eq 0 ]] || { echo "run as root (it drops to dentest)" >&2; exit 1; }
bash tests/setup >/dev/null
command -v hyperfine >/dev/null || apt-get install -y hyperfine >/dev/null
BIN=/var/tmp/den-test/bin
WORK=$(mktemp -d /tmp/den-bench.XXXXXX)
chown dentest: "$WORK"
trap 'runuser -u dentest -- env HOME=/home/dentest bash -c "$BIN/den --root $WORK/den rm -f \$($BIN/den --root $WORK/den ps -aq) >/dev/null 2>&1; podman --root $WORK/pm --runroot $WORK/pmrun rm -af >/dev/null 2>&1" || true; rm -rf "$WORK" 2>/dev/null || runuser -u dentest -- rm -rf "$WORK"' EXIT
RUNS=${RUNS:-10}

as_user() { runuser -u dentest -- env -i HOME=/home/dentest USER=dentest PATH=$BIN:/usr/bin:/bin bash -c "$*"; }

as_user "
  set -e
  mkdir -p $WORK/root/bin $WORK/root/etc $WORK/root/tmp
  cp /bin/busybox $WORK/root/bin/
  for a in \$(/bin/busybox --list); do [ \$a = busybox ] || ln -sf busybox $WORK/root/bin/\$a; done
  echo 'root:x:0:0:root:/root:/bin/sh' > $WORK/root/etc/passwd
  tar -C $WORK/root --numeric-owner --owner=0 --group=0 -cf $WORK/bb.tar .
  den --root $WORK/den import -c 'CMD [\"/bin/sh\"]' $WORK/bb.tar localhost/bb:1 >/dev/null
  den --root $WORK/den save -o $WORK/bb-image.tar localhost/bb:1
"
D="den --root $WORK/den"
P=""
if command -v podman >/dev/null && command -v runc >/dev/null; then
  P="podman --root $WORK/pm --runroot $WORK/pmrun --storage-driver overlay --cgroup-manager cgroupfs --runtime runc"
  as_user "$P load -i $WORK/bb-image.tar >/dev/null 2>&1" || P=""
fi

results=()
bench() {  # name den-cmd podman-cmd [prepare]
  local name=$1 dcmd=$2 pcmd=$3 json=$WORK/h.json
  as_user "hyperfine -N --warmup 2 --runs $RUNS --export-json $json '$dcmd' ${P:+'$pcmd'}" >/dev/null 2>&1 ||
    as_user "hyperfine --warmup 2 --runs $RUNS --export-json $json '$dcmd' ${P:+'$pcmd'}" >/dev/null
  local dm pm
  dm=$(python3 -c "import json;r=json.load(open('$json'))['results'];print(round(r[0]['median']*1000,1))")
  pm=$([[ -n $P ]] && python3 -c "import json;r=json.load(open('$json'))['results'];print(round(r[1]['median']*1000,1))" || echo "-")
  results+=("$name|$dm|$pm")
}

bench "run --rm --network none bb true" "$D run --rm --network none localhost/bb:1 true" \
      "$P run --rm --network none localhost/bb:1 true"
if as_user "$D exec --help" >/dev/null 2>&1; then
  bench "run -d + exec + rm -f" \
    "bash -c \"c=\\\$($D run -d --network none localhost/bb:1 sleep 100); $D exec \\\$c true; $D rm -f \\\$c >/dev/null\"" \
    "bash -c \"c=\\\$($P run -d --network none localhost/bb:1 sleep 100); $P exec \\\$c true; $P rm -f -t0 \\\$c >/dev/null\""
fi
for n in ${PS_COUNTS:-100 1000}; do
  have=$(as_user "$D ps -aq | wc -l")
  as_user "for i in \$(seq $((have + 1)) $n); do $D create --network none localhost/bb:1 true >/dev/null; done"
  if [[ -n $P ]]; then
    have=$(as_user "$P ps -aq | wc -l")
    as_user "for i in \$(seq $((have + 1)) $n); do $P create --network none localhost/bb:1 true >/dev/null; done"
  fi
  bench "ps -a with $n containers" "$D ps -a" "$P ps -a"
done

printf '\n%-34s %12s %12s %8s\n' "benchmark (median)" "den ms" "podman ms" "ratio"
for r in "${results[@]}"; do
  IFS='|' read -r name dm pm <<<"$r"
  ratio=$([[ $pm != - ]] && python3 -c "print(f'{$dm/$pm:.2f}')" || echo "-")
  printf '%-34s %12s %12s %8s\n' "$name" "$dm" "$pm" "$ratio"
done
