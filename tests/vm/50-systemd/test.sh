#!/bin/bash
# den under a real `systemd --user` (run in the VM by tests/vm/run, as the
# unprivileged user with linger; den and den-init in $VM_TEST_DIR/bin/):
# a unit from `den generate systemd --new` and a Quadlet .container file
# start with Type=notify (den's monitor sends MAINPID and READY=1), keep the
# container's processes in the unit's cgroup, restart after `kill -9` of the
# container's main process (Restart=on-failure), and stop cleanly. A Quadlet
# file with an unknown key gets no unit, and the generator's error names
# FILE:LINE. Prints TAP lines; exits non-zero if a check failed.
set -u
T=${VM_TEST_DIR:-$(cd "$(dirname "$0")" && pwd)}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/run/user/$(id -u)}
mkdir -p ~/.local/bin ~/.config/systemd/user ~/.config/containers/systemd
install -m 0755 "$T/bin/den" "$T/bin/den-init" ~/.local/bin/
DEN=$HOME/.local/bin/den
export PATH=$HOME/.local/bin:$PATH

n=0
failed=0
check() {
    local name=$1
    shift
    n=$((n + 1))
    if "$@" >/tmp/check.out 2>&1; then
        echo "ok $n $name"
    else
        echo "not ok $n $name"
        sed 's/^/#   /' /tmp/check.out
        failed=$((failed + 1))
    fi
}
# wait_for SECONDS 'condition'
wait_for() {
    local i
    for ((i = 0; i < $1 * 2; i++)); do
        eval "$2" && return 0
        sleep 0.5
    done
    echo "timed out waiting for: $2"
    return 1
}
sc() { systemctl --user "$@"; }
is() { [[ $1 == "$2" ]] || { echo "got '$1', want '$2'"; return 1; }; }
in_unit_cgroup() { # PID UNIT
    grep -q "/$2\$" "/proc/$1/cgroup" || { cat "/proc/$1/cgroup"; return 1; }
}
# The unit stopped cleanly (inactive, Result=success) and its container is gone.
stopped_clean() { # UNIT CONTAINER
    local a r p
    a=$(sc is-active "$1")
    r=$(sc show -p Result --value "$1")
    p=$("$DEN" ps -aq -f "name=$2")
    echo "is-active=$a result=$r containers=[$p]"
    [[ $a == inactive && $r == success && -z $p ]]
}
running_pid() { "$DEN" inspect -f '{{if .State.Running}}{{.State.Pid}}{{end}}' "$1" 2>/dev/null; }

# A busybox image, from the VM's busybox-static.
R=$(mktemp -d)
mkdir -p "$R/bin" "$R/etc" "$R/tmp"
cp /bin/busybox "$R/bin/"
for c in sh sleep echo cat true false test ps; do ln -s busybox "$R/bin/$c"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$R/etc/passwd"
tar -C "$R" -cf ~/bb.tar .
check "import a busybox image" "$DEN" import ~/bb.tar bb

# ---- a unit from `den generate systemd --new` --------------------------------------
U=container-web.service
check "generate systemd --new" sh -c "'$DEN' create --name web --network none --stop-timeout 2 bb sleep 100000 >/dev/null &&
    '$DEN' generate systemd --new --name --restart-sec 1 web >~/.config/systemd/user/$U && '$DEN' rm web >/dev/null"
sc daemon-reload
check "systemctl --user start returns once the container runs (Type=notify)" \
    sh -c "systemctl --user start $U && test -n \"\$('$DEN' inspect -f '{{if .State.Running}}{{.State.Pid}}{{end}}' web)\""
check "the unit is active, Type=notify, its main PID den's monitor" \
    sh -c "test \"\$(systemctl --user is-active $U)\" = active &&
           test \"\$(systemctl --user show -p Type --value $U)\" = notify &&
           test \"\$(cat /proc/\$(systemctl --user show -p MainPID --value $U)/comm)\" = den-monitor"
pid1=$(running_pid web)
check "the container's process is in the unit's cgroup" in_unit_cgroup "${pid1:-0}" "$U"
check "systemctl --user status lists the container's process" sh -c "systemctl --user status $U | grep -q 'sleep 100000'"
check "the user has linger: the unit belongs to user@UID.service, not to a login session" \
    sh -c "test -e /var/lib/systemd/linger/\$(id -un) && grep -q 'user@[0-9]*.service/' /proc/${pid1:-0}/cgroup &&
           ! grep -q 'session-' /proc/${pid1:-0}/cgroup"
check "kill -9 of the container's main process" kill -9 "${pid1:-999999999}"
check "systemd restarts it (Restart=on-failure): a new container process" \
    wait_for 90 '[[ -n $(running_pid web) && $(running_pid web) != "$pid1" && $(sc is-active $U) == active ]]'
check "NRestarts counts it" sh -c "test \"\$(systemctl --user show -p NRestarts --value $U)\" -ge 1"
pid2=$(running_pid web)
check "the new process is in the unit's cgroup" in_unit_cgroup "${pid2:-0}" "$U"
check "systemctl --user stop stops it cleanly" sc stop "$U"
check "the unit is inactive (not failed) and the container removed (--rm)" stopped_clean "$U" web

# ---- Quadlet -------------------------------------------------------------------------
sudo mkdir -p /etc/systemd/user-generators
printf '#!/bin/sh\nexec %s quadlet generate --user "$@"\n' "$DEN" | sudo tee /etc/systemd/user-generators/den-user-generator >/dev/null
sudo chmod 0755 /etc/systemd/user-generators/den-user-generator
cat >~/.config/containers/systemd/q1.container <<'Q'
[Unit]
Description=den Quadlet test

[Container]
Image=bb
Exec=sleep 100000
Network=none
StopTimeout=2

[Service]
Restart=on-failure
RestartSec=1
Q
printf '[Container]\nImage=bb\nColour=blue\n' >~/.config/containers/systemd/bad.container
sc daemon-reload
G=$XDG_RUNTIME_DIR/systemd/generator
check "daemon-reload ran the generator: q1.service" test -f "$G/q1.service"
check "no unit for the file with an unknown key" test ! -e "$G/bad.service"
check "the generator's error names the file and line" \
    sh -c "'$DEN' quadlet generate --user /tmp/qgen 2>&1 | grep -q 'bad.container:3: unknown key \"Colour\"'"
# No den-pause yet: the unit's den starts it, and must put it in a scope of
# its own, or stopping the unit would kill the user namespace with it.
"$DEN" system migrate >/dev/null 2>&1
check "systemctl --user start q1.service (Type=notify)" sc start q1.service
qpid=$(running_pid systemd-q1)
pause_pid=$(cut -d' ' -f1 "$XDG_RUNTIME_DIR/den/pause.pid" 2>/dev/null)
check "den-pause started by the unit lives in a den-pause-*.scope, not in q1.service" \
    sh -c "grep -q '/den-pause-[0-9]*\.scope\$' /proc/${pause_pid:-0}/cgroup || { cat /proc/${pause_pid:-0}/cgroup; false; }"
check "the Quadlet container runs, in the unit's cgroup" in_unit_cgroup "${qpid:-0}" q1.service
check "kill -9: the Quadlet unit restarts the container" \
    sh -c "kill -9 ${qpid:-999999999}"
check "a new container process after the restart" \
    wait_for 90 '[[ -n $(running_pid systemd-q1) && $(running_pid systemd-q1) != "$qpid" && $(sc is-active q1.service) == active ]]'
# A logout: a login session of the user (PAM, logind) begins and ends. With
# linger the user's systemd, the unit and its container stay.
qpid2=$(running_pid systemd-q1)
logout_test() {
    sudo systemd-run --quiet --uid="$(id -u)" -p PAMName=login --unit=den-logout-test --collect sleep 1000 || return 1
    wait_for 10 'loginctl list-sessions --no-legend | grep -q " $(id -u) "' || return 1
    loginctl list-sessions --no-legend
    sudo systemctl stop den-logout-test || return 1
    wait_for 10 '! loginctl list-sessions --no-legend | grep -q " $(id -u) "'
}
check "a login session of the user begins and ends (logout)" logout_test
check "after the logout q1.service and its container still run" \
    sh -c "sleep 2; test \"\$(systemctl --user is-active q1.service)\" = active &&
           test \"\$('$DEN' inspect -f '{{.State.Pid}}' systemd-q1)\" = '${qpid2:-none}'"
check "systemctl --user stop q1.service" sc stop q1.service
check "q1.service is inactive (not failed), its container removed" stopped_clean q1.service systemd-q1
check "den-pause outlived q1.service" sh -c "test \"\$(cat /proc/${pause_pid:-0}/comm)\" = den-pause"

# Notify=healthy: the unit is started only once the health check passes
# (the service writes /tmp/up after 3 s).
cat >~/.config/containers/systemd/q2.container <<'Q'
[Container]
Image=bb
Exec=sh -c 'sleep 3; echo >/tmp/up; sleep 100000'
Network=none
StopTimeout=2
HealthCmd=test -e /tmp/up
HealthInterval=1s
Notify=healthy
Q
sc daemon-reload
started_after_healthy() {
    local t0 t1
    t0=$(date +%s%N)
    sc start q2.service || return 1
    t1=$(date +%s%N)
    echo "start took $(((t1 - t0) / 1000000)) ms; health $("$DEN" inspect -f '{{.State.Health.Status}}' systemd-q2)"
    ((t1 - t0 >= 2500000000)) && [[ $("$DEN" inspect -f '{{.State.Health.Status}}' systemd-q2) == healthy ]]
}
check "Notify=healthy: systemctl --user start returns once the health check passes" started_after_healthy
check "q2.service is active" is "$(sc is-active q2.service)" active
check "systemctl --user stop q2.service" sc stop q2.service

# ---- auto-update, for real: a newer local image restarts the unit -------------------
cat >~/.config/containers/systemd/q3.container <<'Q'
[Container]
Image=bb
Exec=sleep 100000
Network=none
StopTimeout=2
AutoUpdate=local
Q
sc daemon-reload
check "systemctl --user start q3.service (AutoUpdate=local)" sc start q3.service
old_image=$("$DEN" inspect -f '{{.Image}}' systemd-q3 2>/dev/null)
check "a newer bb image" sh -c "'$DEN' import -m v2 ~/bb.tar bb >/dev/null"
au_out=$("$DEN" auto-update --format '{{.Unit}} {{.Policy}} {{.Updated}}' 2>&1)
check "auto-update restarts q3.service: UPDATED true" is "$au_out" "q3.service local true"
check "q3.service is active again, its container on the new image" \
    sh -c "test \"\$(systemctl --user is-active q3.service)\" = active &&
           new=\$('$DEN' inspect -f '{{.Image}}' systemd-q3) && test -n \"\$new\" && test \"\$new\" != '$old_image'"
check "a second auto-update has nothing to do" \
    is "$("$DEN" auto-update --format '{{.Unit}} {{.Updated}}' 2>&1)" "q3.service false"
check "systemctl --user stop q3.service" sc stop q3.service

# ---- Quadlet .pod: a pod unit and two member containers -----------------------------
cat >~/.config/containers/systemd/web.pod <<'Q'
[Pod]
PodName=webpod
Network=none
Q
for m in app db; do
    printf '[Container]\nImage=bb\nExec=sleep 100000\nPod=web.pod\nStopTimeout=2\n' \
        >~/.config/containers/systemd/$m.container
done
sc daemon-reload
check "daemon-reload: web-pod.service, app.service, db.service" \
    sh -c "test -f '$G/web-pod.service' && test -f '$G/app.service' && test -f '$G/db.service'"
check "systemctl --user start web-pod.service starts the pod and its members (Wants=)" \
    sh -c "{ systemctl --user start web-pod.service &&
           for u in app db; do i=0; until test \"\$(systemctl --user is-active \$u.service)\" = active; do
               i=\$((i+1)); test \$i -lt 60 || exit 1; sleep 0.5; done; done; } ||
           { sudo journalctl --no-pager -n 30 _SYSTEMD_USER_UNIT=web-pod.service; false; }"
check "den pod ps: webpod Running with 3 containers" \
    sh -c "'$DEN' pod ps --format '{{.Name}} {{.Status}} {{.NumberOfContainers}}' | grep -qx 'webpod Running 3'"
apid=$(running_pid systemd-app)
check "the member runs in the pod and in its own unit's cgroup" \
    sh -c "test \"\$('$DEN' inspect -f '{{.Pod}}' systemd-app)\" = \"\$('$DEN' pod inspect -f '{{.Id}}' webpod)\" &&
           grep -q '/app.service\$' /proc/${apid:-0}/cgroup"
check "web-pod.service is Type=forking and follows the infra container's monitor" \
    sh -c "test \"\$(systemctl --user show -p Type --value web-pod.service)\" = forking &&
           test \"\$(cat /proc/\$(systemctl --user show -p MainPID --value web-pod.service)/comm)\" = den-monitor"
check "systemctl --user stop web-pod.service stops the members too (BindsTo=)" \
    sh -c "systemctl --user stop web-pod.service && test \"\$(systemctl --user is-active app.service)\" != active &&
           test \"\$(systemctl --user is-active db.service)\" != active"
check "the pod and its containers are gone" \
    sh -c "test -z \"\$('$DEN' pod ps -q)\" && test -z \"\$('$DEN' ps -aq)\""

# ---- Quadlet .kube: kube play in a notify unit ----------------------------------------
cat >~/app.yaml <<'Y'
apiVersion: v1
kind: Pod
metadata:
  name: kubeapp
spec:
  restartPolicy: Always
  containers:
  - name: main
    image: bb
    command: ["sleep", "100000"]
Y
printf '[Kube]\nYaml=%s/app.yaml\n' "$HOME" >~/.config/containers/systemd/app.kube
sc daemon-reload
check "systemctl --user start app-kube.service (Type=notify: returns once the pod runs)" \
    sh -c "{ systemctl --user start app-kube.service && test -n \"\$('$DEN' inspect -f '{{if .State.Running}}{{.State.Pid}}{{end}}' kubeapp-main)\"; } ||
           { sudo journalctl --no-pager -n 30 _SYSTEMD_USER_UNIT=app-kube.service; false; }"
kpid=$(running_pid kubeapp-main)
check "the kube container's process is in app-kube.service's cgroup" in_unit_cgroup "${kpid:-0}" app-kube.service
check "kill -9 of its main process: the pod's restart policy brings it back" \
    sh -c "kill -9 ${kpid:-999999999}"
check "a new kube container process" \
    wait_for 60 '[[ -n $(running_pid kubeapp-main) && $(running_pid kubeapp-main) != "$kpid" ]]'
check "systemctl --user stop app-kube.service: kube down removes the pod" \
    sh -c "systemctl --user stop app-kube.service && test -z \"\$('$DEN' pod ps -q)\" && test -z \"\$('$DEN' ps -aq)\""

echo "1..$n"
exit $((failed > 0))
