#!/usr/bin/env bash
# Benchmark (not a test): rootless networking, den side by side with podman.
#   sudo tests/bench/bench-net.sh                 # after tests/setup
#   sudo BIN=/tmp/den-x NO_SETUP=1 tests/bench/bench-net.sh   # other den binaries
# Measures, as the unprivileged user dentest, all traffic on 127.0.0.1:
#   1. throughput host -> container through a published port (-p 127.0.0.1:P:5201),
#      a python client sending SIZE_MB to busybox `nc -l` in the container;
#   2. throughput container -> host (outbound, slirp4netns:allow_host_loopback=true),
#      busybox `dd | nc 10.0.2.2 P` to a python sink on the host;
#   3. start latency: run --rm bb true with the default network vs --network none
#      (hyperfine medians; the difference is what networking adds).
# Each for den with slirp4netns and pasta, and podman (its default: slirp4netns
# with rootlessport). SIZE_MB (default 1000), RUNS (default 10).
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/../.."
[[ $(id -u) -eq 0 ]] || { echo "run as root (it drops to dentest)" >&2; exit 1; }
[[ -n ${NO_SETUP:-} ]] || bash tests/setup >/dev/null
command -v hyperfine >/dev/null || apt-get install -y hyperfine >/dev/null
BIN=${BIN:-/var/tmp/den-test/bin}
SIZE_MB=${SIZE_MB:-1000}
RUNS=${RUNS:-10}
WORK=$(mktemp -d /tmp/den-bench-net.XXXXXX)
chown dentest: "$WORK"
chmod 0755 "$WORK"
as_user() { runuser -u dentest -- env -i HOME=/home/dentest USER=dentest XDG_RUNTIME_DIR=$WORK/run PATH=$BIN:/usr/bin:/bin bash -c "$*"; }
D="den --root $WORK/den --runroot $WORK/denrun"
P=""
trap 'as_user "$D rm -f \$($D ps -aq) >/dev/null 2>&1; ${P:-true} rm -af -t0 >/dev/null 2>&1" || true; rm -rf "$WORK" 2>/dev/null || runuser -u dentest -- rm -rf "$WORK"' EXIT
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

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# MB/s of SIZE_MB sent to 127.0.0.1:$1, waiting for the receiver to close.
send_rate() {
  as_user "python3 - $1 $SIZE_MB" <<'EOF'
import socket, sys, time
port, mb = int(sys.argv[1]), int(sys.argv[2])
for i in range(100):
    try:
        s = socket.create_connection(("127.0.0.1", port)); break
    except OSError:
        time.sleep(0.05)
buf = b"\0" * (1 << 20)
t = time.time()
for _ in range(mb):
    s.sendall(buf)
s.shutdown(socket.SHUT_WR)
while s.recv(65536):
    pass
print(round(mb / (time.time() - t)))
EOF
}

# Host -> container through a published port. $1: label, $2: engine command, $3: network
inbound() {
  local port c rate
  port=$(free_port)
  c=$(as_user "$2 run -d --network $3 -p 127.0.0.1:$port:5201 localhost/bb:1 sh -c 'nc -l -p 5201 >/dev/null'")
  sleep 1
  rate=$(send_rate "$port" || echo "-")
  as_user "$2 rm -f $c >/dev/null 2>&1" || true
  echo "$rate"
}

# Container -> host (outbound): the container sends SIZE_MB to a sink on the host's loopback.
outbound() {
  local port rate
  port=$(free_port)
  rate=$(as_user "python3 - $port $SIZE_MB '$2 run --rm --network $3:allow_host_loopback=true localhost/bb:1 sh -c \"dd if=/dev/zero bs=1M count=$SIZE_MB 2>/dev/null | nc 10.0.2.2 $port\"'" <<'EOF'
import socket, subprocess, sys, time
port, mb, cmd = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(1)
p = subprocess.Popen(cmd, shell=True)
c, _ = ls.accept()
t = time.time(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    n += len(b)
dt = time.time() - t
c.close(); p.wait()
print(round(n / (1 << 20) / dt))
EOF
  ) || rate="-"
  echo "$rate"
}

median_ms() {  # hyperfine JSON, result index
  python3 -c "import json;r=json.load(open('$1'))['results'];print(round(r[$2]['median']*1000,1))"
}

rows=()
for net in slirp4netns pasta; do
  in=$(inbound den "$D" $net)
  out=$( [[ $net == slirp4netns ]] && outbound den "$D" $net || echo "-")
  rows+=("den ($net)|$in|$out")
done
if [[ -n $P ]]; then
  rows+=("podman (slirp4netns+rootlessport)|$(inbound podman "$P" slirp4netns)|$(outbound podman "$P" slirp4netns)")
fi

as_user "hyperfine -N --warmup 2 --runs $RUNS --export-json $WORK/h.json \
  '$D run --rm --network none localhost/bb:1 true' '$D run --rm localhost/bb:1 true' \
  '$D run --rm --network pasta localhost/bb:1 true'" >/dev/null
d_none=$(median_ms $WORK/h.json 0); d_slirp=$(median_ms $WORK/h.json 1); d_pasta=$(median_ms $WORK/h.json 2)
if [[ -n $P ]]; then
  as_user "hyperfine -N --warmup 2 --runs $RUNS --export-json $WORK/p.json \
    '$P run --rm --network none localhost/bb:1 true' '$P run --rm --network slirp4netns localhost/bb:1 true'" >/dev/null
  p_none=$(median_ms $WORK/p.json 0); p_slirp=$(median_ms $WORK/p.json 1)
fi

echo
printf '%-36s %14s %14s\n' "throughput, MB/s ($SIZE_MB MB)" "host->ctr -p" "ctr->host"
for r in "${rows[@]}"; do IFS='|' read -r n a b <<<"$r"; printf '%-36s %14s %14s\n' "$n" "$a" "$b"; done
echo
printf '%-36s %10s %10s %10s\n' "run --rm bb true, median ms" "none" "slirp4netns" "pasta"
printf '%-36s %10s %10s %10s\n' "den" "$d_none" "$d_slirp" "$d_pasta"
[[ -z $P ]] || printf '%-36s %10s %10s %10s\n' "podman" "$p_none" "$p_slirp" "-"
python3 -c "print('den networking start overhead: slirp4netns %+.1f ms, pasta %+.1f ms' % ($d_slirp - $d_none, $d_pasta - $d_none))"
