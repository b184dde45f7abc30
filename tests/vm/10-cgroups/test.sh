#!/bin/bash
# Resource limits on cgroup v2 (issue 8), run by tests/vm/run as an
# unprivileged user with delegated controllers and a systemd user instance.
# Prints TAP; many checks per run, because in the emulated VM every process
# start costs up to a second.
set -uo pipefail
BIN=$VM_TEST_DIR/bin
export PATH=$BIN:$PATH
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/run/user/$(id -u)}
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() {
    n=$((n + 1)); failed=$((failed + 1))
    echo "not ok $n $1"
    [[ -z ${2:-} ]] || printf '%s\n' "$2" | sed 's/^/#   /'
}
# check NAME EXPECTED ACTUAL
check() { if [[ $3 == "$2" ]]; then ok "$1"; else notok "$1" "expected: $2"$'\n'"actual:   $3"; fi; }
# check_match NAME REGEX ACTUAL
check_match() { if [[ $3 =~ $2 ]]; then ok "$1"; else notok "$1" "expected to match: $2"$'\n'"actual: $3"; fi; }
# check_lt NAME A B : A < B (numbers, awk)
check_lt() { if awk -v a="$2" -v b="$3" 'BEGIN{exit !(a < b)}'; then ok "$1 ($2 < $3)"; else notok "$1" "$2 is not below $3"; fi; }
cgfile() { den exec "$1" cat "/sys/fs/cgroup/$2" 2>&1; }

echo "# $(uname -r), $(id -un), cgroup $(sed -n 's/^0:://p' /proc/self/cgroup)"
out=$(den info --format '{{.Host.CgroupsVersion}} {{.Host.CgroupManager}} {{.Host.CgroupControllers}}' 2>&1)
check_match "info: cgroup v2, systemd manager, delegated controllers" '^v2 systemd .*memory.*pids' "$out"
check_match "system check --host: delegation ok" '(^|'$'\n'')ok +cgroup delegation: cgroup v2, systemd manager' \
    "$(den system check --host 2>&1)"
den import "$BIN/bb.tar" bb >/dev/null 2>&1 || notok "import busybox" "$(den import "$BIN/bb.tar" bb 2>&1)"

# ---- every limit visible in the container's own cgroup ----------------------
files="memory.max memory.swap.max memory.low cpu.max cpu.weight cpuset.cpus pids.max io.max"
for mgr in systemd cgroupfs; do
    out=$(den --cgroup-manager $mgr run --rm --network none -m 300M --memory-swap 500M --memory-reservation 200M \
        --cpus 1.5 -c 512 --cpuset-cpus 0 --pids-limit 100 --blkio-weight 300 --device-read-bps /dev/vda:1mb \
        --oom-score-adj 100 bb sh -c "cd /sys/fs/cgroup && for f in $files; do echo \$f=\$(cat \$f); done; \
            echo weight=\$(cat io.weight 2>/dev/null || cat io.bfq.weight); echo cg=\$(cat /proc/self/cgroup); \
            echo oom=\$(cat /proc/self/oom_score_adj)" 2>&1)
    check_match "$mgr: memory.max from -m 300M" 'memory.max=314572800' "$out"
    check_match "$mgr: memory.swap.max from --memory-swap 500M" 'memory.swap.max=209715200' "$out"
    check_match "$mgr: memory.low from --memory-reservation" 'memory.low=209715200' "$out"
    check_match "$mgr: cpu.max from --cpus 1.5" 'cpu.max=150000 100000' "$out"
    check_match "$mgr: cpu.weight from -c 512 (docker's conversion)" 'cpu.weight=20' "$out"
    check_match "$mgr: cpuset.cpus" 'cpuset.cpus=0' "$out"
    check_match "$mgr: pids.max" 'pids.max=100' "$out"
    check_match "$mgr: io.max from --device-read-bps" 'io.max=[0-9]+:[0-9]+ rbps=1048576' "$out"
    check_match "$mgr: io weight from --blkio-weight 300" 'weight=(default 2930|300|default 300)' "$out"
    check_match "$mgr: cgroup namespace: the container is at its root" 'cg=0::/$'$'\n' "$out"$'\n'
    check_match "$mgr: --oom-score-adj" 'oom=100' "$out"
done
leftover=$(find /sys/fs/cgroup -name 'den-*' ! -name 'den-pause-*' -type d 2>/dev/null)
check "no den cgroups left after --rm" "" "$leftover"
# Under a Type=notify unit (NOTIFY_SOCKET set), auto: the container stays in the unit's cgroup.
# (den-pause-PID.scope, the user namespace holder, stays by design.)
NOTIFY_SOCKET=/nonexistent den run -d --name inunit --network none bb sleep 60 >/dev/null 2>&1
check "NOTIFY_SOCKET set: no scope outside the unit" "" "$(find /sys/fs/cgroup -name 'den-*' ! -name 'den-pause-*' -type d 2>/dev/null)"
den rm -f inunit >/dev/null 2>&1
# What the cgroup costs (not checks; emulated, so slow in absolute terms).
for mgr in systemd cgroupfs; do
    den --log-level=debug --cgroup-manager $mgr run --rm --network none -m 100m bb true 2>&1 |
        grep -E 'phase (cgroup|runtime: spawn|start container)' | sed "s/^/# $mgr: /"
done

# ---- enforcement --------------------------------------------------------------
out=$(den run --name hog --network none -m 20m bb sh -c 'tail /dev/zero' 2>&1); rc=$?
check "memory hog: OOM-killed, exit 137" 137 "$rc"
check "inspect: HostConfig.Memory and State.OOMKilled" "20971520 true" \
    "$(den inspect -f '{{.HostConfig.Memory}} {{.State.OOMKilled}}' hog 2>&1)"
den rm hog >/dev/null 2>&1
# The bomb runs in a subshell (busybox sh exits when a fork fails); the
# report uses builtins only.
out=$(den run --rm --network none --pids-limit 10 bb sh -c \
    '(i=0; while [ $i -lt 40 ]; do sleep 20 & i=$((i+1)); done) 2>/dev/null; read cur </sys/fs/cgroup/pids.current;
     echo cur=$cur; while read l; do echo "$l"; done </sys/fs/cgroup/pids.events' 2>&1)
cur=$(sed -n 's/^cur=//p' <<<"$out")
check_match "fork bomb stopped by --pids-limit 10 (pids.events max > 0)" 'max [1-9]' "$out"
check_lt "processes stay under the limit" "${cur:-999}" 11

den run -d --name spin --network none --cpus 0.5 bb sh -c 'while :; do :; done' >/dev/null 2>&1
u1=$(cgfile spin cpu.stat | sed -n 's/^usage_usec //p'); t1=$(date +%s%N)
sleep 6
u2=$(cgfile spin cpu.stat | sed -n 's/^usage_usec //p'); t2=$(date +%s%N)
share=$(awk -v a="$u1" -v b="$u2" -v s="$t1" -v e="$t2" 'BEGIN{printf "%.3f", (b-a)*1000/(e-s)}')
check_lt "--cpus 0.5: below 60% of a core over 6 s" "$share" 0.6
check_lt "--cpus 0.5: it did run (above 10%)" 0.1 "$share"
out=$(den stats --no-stream --format '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}' spin 2>&1)
check_match "stats: plausible numbers" '^spin [0-9]+\.[0-9]+% [0-9.]+[KMG]?i?B / [0-9.]+[KMG]iB [1-9]' "$out"
cpu=$(sed -n 's/^spin \([0-9.]*\)%.*/\1/p' <<<"$out")
check_lt "stats: CPU % at most the limit (+slack)" "${cpu:-999}" 65
out=$(den stats --no-stream spin 2>&1)
check_match "stats: docker's header" 'CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS' "$out"

check "exec: the process joins the container's cgroup" "0::/" \
    "$(den exec spin sh -c 'sleep 2; cat /proc/self/cgroup' 2>&1)"

# ---- update, live --------------------------------------------------------------
den update -m 100m --cpus 0.25 --pids-limit 50 spin >/dev/null 2>&1 || notok "update" "$(den update -m 100m spin 2>&1)"
check "update: cpu.max live" "25000 100000" "$(cgfile spin cpu.max)"
check "update: memory.max live" "104857600" "$(cgfile spin memory.max)"
check "update: pids.max live" "50" "$(cgfile spin pids.max)"
check "update: inspect shows the new values" "104857600 250000000 50" \
    "$(den inspect -f '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}' spin 2>&1)"
den rm -f spin >/dev/null 2>&1

# ---- pause / unpause -------------------------------------------------------------
den run -d --name counter --network none bb sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/c; sleep 0.2; done' >/dev/null 2>&1
sleep 3
check "pause" "counter" "$(den pause counter 2>&1)"
check_match "ps shows Paused" 'Up .*\(Paused\)' "$(den ps --format '{{.Status}}' -f name=counter 2>&1)"
check "inspect: State.Status paused" "paused true" "$(den inspect -f '{{.State.Status}} {{.State.Paused}}' counter 2>&1)"
# exec is refused while paused (as in docker): read the file from the upper dir.
upper=$(den inspect -f '{{.GraphDriver.Data.UpperDir}}' counter)
c1=$(cat "$upper/tmp/c" 2>&1); sleep 3; c2=$(cat "$upper/tmp/c" 2>&1)
check_match "the counter is readable" '^[0-9]+$' "$c1"
check "paused: the counter stops ($c1)" "$c1" "$c2"
out=$(den pause counter 2>&1); rc=$?
check_match "pause twice: error 125" '^125 Error: .*already paused' "$rc $out"
check "unpause" "counter" "$(den unpause counter 2>&1)"
sleep 3
c3=$(cat "$upper/tmp/c" 2>&1)
check_lt "unpaused: the counter advances" "$c2" "$c3"
den rm -f counter >/dev/null 2>&1

# ---- cgroups=disabled, and bad input ---------------------------------------------
out=$(den run --rm --network none --cgroups=disabled bb sh -c 'echo ran' 2>&1)
check "--cgroups=disabled runs" "ran" "$out"
out=$(den run --rm --network none --cgroups=disabled -m 100m bb true 2>&1); rc=$?
check_match "--cgroups=disabled with -m is refused" '^125 Error: .*-m.*--cgroups=disabled' "$rc $out"
for bad in "-m 1k" "--cpus 99" "--cpuset-cpus 7" "--device-read-bps /dev/nope:1mb" "--blkio-weight 5"; do
    out=$(den run --rm --network none $bad bb true 2>&1); rc=$?
    check_match "bad input $bad: one error line, 125" '^125 Error: [^'$'\n'']*$' "$rc $out"
done
check "bad input created nothing" "" "$(den ps -aq 2>&1)"
leftover=$(find /sys/fs/cgroup -name 'den-*' ! -name 'den-pause-*' -type d 2>/dev/null)
check "no den cgroups left at the end" "" "$leftover"

echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
exit $((failed > 0))
