#!/usr/bin/env bats
# Resource limits on a host without cgroup v2 delegation (this one is hybrid):
# containers without limits run, limits are refused with the fix, bad values
# are refused before anything is created; pause, update and stats without a
# cgroup. The limits themselves are tested where cgroup v2 is delegated:
# tests/vm/10-cgroups (through ../shared/vm).

load helpers

local_setup() {
    import_busybox bb >/dev/null
}

# Skips where this host can apply limits (the refusals are not expected there).
require_no_delegation() {
    local lim
    lim=$(den info --format '{{.Host.CgroupLimits}}')
    [[ $lim != available ]] || skip "cgroup v2 is delegated here: tests/vm/10-cgroups covers it"
}

@test "cgroups: a container without limits runs on a host without delegation" {
    require_no_delegation
    run_den run --rm --network none bb echo hello
    assert_success
    assert_output "hello"
}

@test "cgroups: each limit is refused with the fix, and nothing is created" {
    require_no_delegation
    local flags
    for flags in "-m 300M" "--memory-reservation 200M" "--cpus 1.5" "--cpu-shares 512" "--cpuset-cpus 0" "--pids-limit 100" \
        "--blkio-weight 300" "--cpu-quota 50000"; do
        run_den run --rm --network none $flags bb true
        assert_den_error "cannot apply ${flags%% *}: .*cgroup"
        assert_stderr_contains "Delegate=cpu cpuset io memory pids"
        assert_stderr_contains "user@.service.d/delegate.conf"
        assert_stderr_contains "--cgroups=disabled"
        run_den create --network none $flags bb true
        assert_den_error "cannot apply"
    done
    run_den ps -aq
    assert_output ""
    assert_no_staging_leftovers
}

@test "cgroups: the refusal names the host's layout" {
    require_no_delegation
    run_den run --rm --network none -m 300M --pids-limit 10 bb true
    if [[ $(stat -fc %T /sys/fs/cgroup) != cgroup2fs ]]; then
        assert_den_error "cannot apply -m, --pids-limit: this host has a (hybrid|v1) cgroup layout"
        assert_stderr_contains "systemd.unified_cgroup_hierarchy=1"
    else
        assert_den_error "cannot apply -m, --pids-limit: "
    fi
}

@test "cgroups: --cgroups=disabled runs, and refuses limits; bad --cgroups" {
    run_den run --rm --network none --cgroups=disabled bb echo ok
    assert_success
    assert_output "ok"
    run_den run --rm --network none --cgroups=disabled -m 100m bb true
    assert_den_error "-m cannot be applied with --cgroups=disabled"
    run_den run --rm --network none --cgroups=sometimes bb true
    assert_den_error 'invalid --cgroups "sometimes": use enabled, disabled or no-conmon'
    run_den --cgroup-manager upstart run --rm --network none bb true
    assert_den_error 'unknown cgroup manager "upstart"'
    run_den ps -aq
    assert_output ""
}

@test "cgroups: bad limit values are refused before anything is created" {
    local ncpu
    ncpu=$(nproc)
    run_den run --rm --network none -m 1k bb true
    assert_den_error "-m 1KiB: below the minimum memory limit of 6MiB"
    run_den run --rm --network none -m lots bb true
    assert_den_error 'invalid -m "lots"'
    run_den run --rm --network none --cpus 99 bb true
    assert_den_error "--cpus 99: the range of CPUs is from 0.01 to $ncpu.00, as this machine has $ncpu CPU"
    run_den run --rm --network none --cpus abc bb true
    assert_den_error 'invalid --cpus "abc"'
    run_den run --rm --network none --cpuset-cpus 7 bb true
    assert_den_error "--cpuset-cpus 7: CPU 7 does not exist on this machine \(online: "
    run_den run --rm --network none --cpuset-cpus 1-x bb true
    assert_den_error 'invalid --cpuset-cpus "1-x"'
    run_den run --rm --network none --device-read-bps /dev/nope:1mb bb true
    assert_den_error "--device-read-bps /dev/nope: no such device"
    run_den run --rm --network none --device-write-bps /dev/null:1mb bb true
    assert_den_error "--device-write-bps /dev/null: not a block device"
    run_den run --rm --network none --device-read-bps /dev/vda bb true
    assert_den_error 'invalid --device-read-bps "/dev/vda": use DEVICE:RATE'
    run_den run --rm --network none --blkio-weight 5 bb true
    assert_den_error "--blkio-weight 5: use a weight between 10 and 1000"
    run_den run --rm --network none --memory-swap 1g bb true
    assert_den_error "--memory-swap needs -m"
    run_den run --rm --network none -m 1g --memory-swap 512m bb true
    assert_den_error "--memory-swap must be at least -m"
    run_den run --rm --network none --pids-limit x bb true
    assert_den_error 'invalid --pids-limit "x"'
    run_den run --rm --network none --oom-score-adj 2000 bb true
    assert_den_error "--oom-score-adj 2000: use a value between -1000 and 1000"
    run_den ps -aq
    assert_output ""
    assert_no_staging_leftovers
}

@test "cgroups: --oom-score-adj applies without a cgroup; inspect shows HostConfig" {
    run_den run --name o --network none --oom-score-adj 300 bb cat /proc/self/oom_score_adj
    assert_success
    assert_output "300"
    run_den inspect -f '{{.HostConfig.OomScoreAdj}} {{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.State.OOMKilled}} {{.HostConfig.Cgroups}}' o
    assert_success
    assert_output "300 0 0 <nil> false enabled"
}

@test "cgroups: pause is refused without a cgroup; the container keeps running" {
    require_no_delegation
    den run -d --name p --network none bb sleep 100 >/dev/null
    run_den pause p
    assert_den_error "cannot pause p: it runs without a cgroup, and den pauses through cgroup v2's cgroup.freeze"
    assert_stderr_contains "Delegate=cpu cpuset io memory pids"
    run_den inspect -f '{{.State.Status}}' p
    assert_output "running"
    run_den unpause p
    assert_den_error "container p is not paused"
    den stop -t 0 p >/dev/null
    run_den pause p
    assert_den_error "container p is not running"
}

@test "cgroups: update is refused without a cgroup; no flags is an error" {
    require_no_delegation
    den run -d --name u --network none bb sleep 100 >/dev/null
    run_den update -m 500m u
    assert_den_error "cannot apply -m: "
    run_den update u
    assert_den_error "you must provide one or more flags"
    run_den update --cpus 99 u
    assert_den_error "--cpus 99: the range of CPUs"
    run_den inspect -f '{{.HostConfig.Memory}}' u
    assert_output "0"
}

@test "cgroups: stats without a cgroup reads /proc and says which columns are unavailable" {
    den run -d --name s1 --network none bb sh -c 'while :; do :; done' >/dev/null
    den create --name s2 --network none bb true >/dev/null
    run --separate-stderr den stats --no-stream
    assert_success
    assert_line_matches '^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$'
    if [[ $(den info --format '{{.Host.CgroupLimits}}') != available ]]; then
        # --network none: only lo, which is not counted.
        assert_line_matches '^[0-9a-f]{12} +s1 +[0-9]+\.[0-9]{2}% +[0-9.]+[KMG]?i?B / [0-9.]+[KMG]iB +[0-9.]+% +0B / 0B +-- / -- +1$'
        [[ $stderr == *"WARNING: s1 has no cgroup: CPU %, MEM USAGE and PIDS are read from /proc"*"BLOCK I/O is unavailable"* ]] ||
            fail "no warning about the columns: $stderr"
    fi
    assert_output_not_contains "s2"
    run_den stats --no-stream -a --format '{{.Name}} {{.CPUPerc}} {{.PIDs}}'
    assert_success
    assert_line_matches '^s2 0.00% 0$'
    assert_line_matches '^s1 [0-9.]+% 1$'
    # The busy loop uses a good part of a CPU.
    local cpu
    cpu=$(den stats --no-stream --format '{{.CPUPerc}}' s1)
    awk -v c="${cpu%\%}" 'BEGIN{exit !(c > 5)}' || fail "CPU % of a busy loop: $cpu"
    run_den stats --no-stream --format json s1
    assert_success
    assert_output_contains '"Name":"s1"'
    run_den stats --no-stream nosuch
    assert_den_error "no such container"
}

@test "cgroups: top with descriptors; den info lists the controllers and the fix" {
    den run -d --name t --network none bb sleep 100 >/dev/null
    run_den top t pid user args %CPU
    assert_success
    assert_line_matches '^PID +USER +COMMAND +%CPU$'
    assert_line_matches '^[0-9]+ +.* +sleep 100 +[0-9.]+$'
    run_den info --format '{{.Host.CgroupManager}} {{.Host.CgroupLimits}}'
    assert_success
    assert_line_matches '^(systemd|cgroupfs) '
    if [[ $(stat -fc %T /sys/fs/cgroup) != cgroup2fs ]]; then
        assert_output_contains "Delegate=cpu cpuset io memory pids"
    fi
}

@test "system check --host: one line per host prerequisite, with the fix" {
    run_den system check --host
    assert_line_matches '^ok +subuid/subgid: '
    assert_line_matches '^ok +newuidmap: '
    assert_line_matches '^(ok|warn) +/dev/fuse: '
    assert_line_matches '^(ok|warn) +/dev/net/tun: '
    assert_line_matches '^(ok|warn) +cgroup delegation: '
    assert_line_matches '^(ok|warn) +linger: '
    assert_line_matches '^(ok|warn|fail) +XDG_RUNTIME_DIR: '
    assert_line_matches '^(ok|warn) +ping_group_range: '
    assert_line_matches '^(ok|warn) +ip_unprivileged_port_start: '
    if [[ $(stat -fc %T /sys/fs/cgroup) != cgroup2fs ]]; then
        assert_line_matches '^warn +cgroup delegation: .*Delegate=cpu cpuset io memory pids'
    fi
}
