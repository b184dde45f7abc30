#!/usr/bin/env bash
# Benchmark (not a test): pods and `kube play`, den side by side with podman.
#   sudo tests/bench/bench-pod.sh                  # after tests/setup
#   sudo BIN=/tmp/den-x NO_SETUP=1 tests/bench/bench-pod.sh
# As the unprivileged user dentest, hyperfine medians (RUNS, default 10) of:
#   1. a pod's life: pod create (slirp4netns, one published port), two
#      members started with run -d --pod, pod rm -f;
#   2. kube play of a two-container Pod YAML, then kube down.
# podman runs with runc and cgroupfs, as in the other benchmarks here.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
[[ $(id -u) -eq 0 ]] || { echo "run as root (it drops to dentest)" >&2; exit 1; }
[[ -n ${NO_SETUP:-} ]] || bash tests/setup >/dev/null
command -v hyperfine >/dev/null || apt-get install -y hyperfine >/dev/null
BIN=${BIN:-/var/tmp/den-test/bin}
RUNS=${RUNS:-10}
WORK=$(mktemp -d /tmp/den-bench-pod.XXXXXX)
chown dentest: "$WORK"
chmod 0755 "$WORK"
as_user() { runuser -u dentest -- env -i HOME=/home/dentest USER=dentest XDG_RUNTIME_DIR=$WORK/run PATH=$BIN:/usr/bin:/bin bash -c "$*"; }
D="den --root $WORK/den --runroot $WORK/denrun"
P=""
cleanup() {
  as_user "$D pod rm -af >/dev/null 2>&1; $D rm -af >/dev/null 2>&1; ${P:-true} pod rm -af >/dev/null 2>&1; ${P:-true} rm -af -t0 >/dev/null 2>&1" || true
  rm -rf "$WORK" 2>/dev/null || runuser -u dentest -- rm -rf "$WORK"
}
trap cleanup EXIT
as_user "mkdir -p -m 0700 $WORK/run"

as_user "
  set -e
  mkdir -p $WORK/root/bin $WORK/root/etc $WORK/root/tmp
  cp /bin/busybox $WORK/root/bin/
  for a in \$(/bin/busybox --list); do [ \$a = busybox ] || ln -sf busybox $WORK/root/bin/\$a; done
  echo 'root:x:0:0:root:/root:/bin/sh' > $WORK/root/etc/passwd
  tar -C $WORK/root --numeric-owner --owner=0 --group=0 -cf $WORK/bb.tar .
  $D import -c 'CMD [\"/bin/sh\"]' $WORK/bb.tar localhost/bb:1 >/dev/null
  $D save -o $WORK/bb-image.tar localhost/bb:1
"
if command -v podman >/dev/null && command -v runc >/dev/null; then
  P="podman --root $WORK/pm --runroot $WORK/pmrun --storage-driver overlay --cgroup-manager cgroupfs --runtime runc"
  as_user "$P load -i $WORK/bb-image.tar >/dev/null 2>&1" || P=""
fi

cat >"$WORK/pod.yaml" <<'EOF'
apiVersion: v1
kind: Pod
metadata:
  name: benchpod
spec:
  containers:
  - name: web
    image: localhost/bb:1
    command: ["sh", "-c", "trap 'exit 0' TERM; httpd -p 8080; while :; do sleep 0.1; done"]
  - name: side
    image: localhost/bb:1
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
EOF
# (The commands end on SIGTERM: kube down measures den and podman, not a
# 10 s stop timeout of a PID 1 that ignores it.)
chmod a+r "$WORK/pod.yaml"

# The commands are shell lines: one hyperfine run is a whole life cycle.
pod_life() {  # engine command
  echo "$1 pod create --name bp -p 127.0.0.1::8080 >/dev/null && $1 run -d --pod bp localhost/bb:1 httpd -f -p 8080 >/dev/null && $1 run -d --pod bp localhost/bb:1 sleep 1000 >/dev/null && $1 pod rm -f -t 0 bp >/dev/null"
}
kube_life() {
  echo "$1 kube play $WORK/pod.yaml >/dev/null && $1 kube down $WORK/pod.yaml >/dev/null"
}

median_ms() {  # hyperfine JSON, result index
  python3 -c "import json;r=json.load(open('$1'))['results'];print(round(r[$2]['median']*1000,1))"
}

as_user "hyperfine --warmup 2 --runs $RUNS --export-json $WORK/d.json '$(pod_life "$D")' '$(kube_life "$D")'" >/dev/null
d_pod=$(median_ms $WORK/d.json 0)
d_kube=$(median_ms $WORK/d.json 1)
p_pod=- p_kube=-
if [[ -n $P ]]; then
  # The first podman pod builds podman's pause image: not part of the runs.
  as_user "$P pod create --name warm >/dev/null && $P pod rm -f warm >/dev/null" || true
  # Each on its own: a command podman fails (its kube play of this YAML,
  # with runc, on some versions) is reported as "-", not as a failed run.
  as_user "hyperfine --warmup 2 --runs $RUNS --export-json $WORK/p1.json '$(pod_life "$P")'" >/dev/null 2>&1 &&
    p_pod=$(median_ms $WORK/p1.json 0)
  as_user "hyperfine --warmup 2 --runs $RUNS --export-json $WORK/p2.json '$(kube_life "$P")'" >/dev/null 2>&1 &&
    p_kube=$(median_ms $WORK/p2.json 0)
fi

echo
printf '%-58s %10s %10s %8s\n' "median ms ($RUNS runs)" "den" "podman" "ratio"
ratio() { [[ $2 == - ]] && echo - || python3 -c "print('%.1fx' % ($2 / $1))"; }
printf '%-58s %10s %10s %8s\n' "pod create -p, 2x run -d --pod, pod rm -f" "$d_pod" "$p_pod" "$(ratio "$d_pod" "$p_pod")"
printf '%-58s %10s %10s %8s\n' "kube play (2 containers) + kube down" "$d_kube" "$p_kube" "$(ratio "$d_kube" "$p_kube")"
