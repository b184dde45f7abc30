#!/usr/bin/env bats
# Kubernetes YAML: kube play (Pod, Deployment, PersistentVolumeClaim,
# ConfigMap), kube down, --replace, kube generate and the round trip, bad
# input leaving nothing behind, --service-container readiness.

load helpers

local_setup() {
    import_busybox bb >/dev/null
    unset INVOCATION_ID NOTIFY_SOCKET
}

local_teardown() {
    local p
    for p in $(den pod ps -aq 2>/dev/null); do den pod rm -f "$p" >/dev/null 2>&1 || true; done
    local ids
    ids=$(den ps -aq 2>/dev/null) || true
    [[ -z $ids ]] || den rm -f $ids >/dev/null 2>&1 || true
    [[ -z ${BG_PID:-} ]] || kill "$BG_PID" 2>/dev/null || true
}


# web.yaml with a PVC, a ConfigMap, a pod of two containers (a web server
# publishing hostPort $1, a sidecar), a hostPath mount of $WORK/site.
write_web_yaml() {
    mkdir -p "$WORK/site"
    echo "from the host" >"$WORK/site/host.txt"
    cat >"$WORK/web.yaml" <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: webdata
spec:
  accessModes: [ReadWriteOnce]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: webcfg
data:
  GREETING: hello from kube
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: srv
    image: bb
    command: ["sh", "-c"]
    args:
    - 'mkdir -p /www && echo "\$GREETING \$MODE" >/www/index.html && cp /site/host.txt /www/ && echo saved >/data/mark && exec httpd -f -p 80 -h /www'
    env:
    - name: MODE
      value: "prod"
    - name: GREETING
      valueFrom:
        configMapKeyRef: {name: webcfg, key: GREETING}
    ports:
    - containerPort: 80
      hostPort: $1
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: site, mountPath: /site, readOnly: true}
  - name: side
    image: bb
    args: ["sleep", "1000"]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: webdata}
  - name: site
    hostPath: {path: $WORK/site, type: Directory}
EOF
}

@test "kube play: a pod of two containers, env, hostPort, PVC, hostPath; kube down" {
    local port
    port=$(free_port)
    write_web_yaml "$port"
    run_den kube play "$WORK/web.yaml"
    assert_success
    local pod_id
    pod_id=$(den pod inspect -f '{{.Id}}' web 2>/dev/null || den pod ps -q --no-trunc -f name=web)
    [[ ${lines[0]} == "Volumes:" && ${lines[1]} == "webdata" && ${lines[2]} == "Pod:" ]] || { show_result; fail "report"; }
    [[ ${lines[3]} =~ ^[0-9a-f]{64}$ && ${lines[4]} == "Containers:" ]] || { show_result; fail "report"; }
    [[ ${lines[5]} =~ ^[0-9a-f]{64}$ && ${lines[6]} =~ ^[0-9a-f]{64}$ ]] || { show_result; fail "report"; }
    [[ ${#lines[@]} -eq 7 ]]
    run_den ps --format '{{.Names}} {{.Status}}' -f name=web-
    assert_line_matches '^web-srv Up'
    assert_line_matches '^web-side Up'
    run fetch "http://127.0.0.1:$port/"
    assert_success
    assert_output "hello from kube prod"
    run fetch "http://127.0.0.1:$port/host.txt"
    assert_output "from the host"
    # The containers share the pod's network: the sidecar reaches the server on localhost.
    run_den exec web-side wget -qO- http://127.0.0.1:80/
    assert_output "hello from kube prod"
    run_den exec web-srv cat /data/mark
    assert_output "saved"
    run_den exec web-srv sh -c 'echo x >/site/ro'
    assert_failure
    run_den inspect -f '{{.HostConfig.RestartPolicy.Name}} {{index .Config.Labels "app"}}' web-srv
    assert_output "always web"
    run_den volume ls -q
    assert_output "webdata"

    run_den kube down "$WORK/web.yaml"
    assert_success
    assert_output_contains "Pods removed:"
    run_den pod ps -aq
    assert_output ""
    run_den ps -aq
    assert_output ""
    # The claim's data stays without --force.
    run_den volume ls -q
    assert_output "webdata"
    # Down of a pod that is gone is not an error; --force removes the claim.
    run_den kube down --force "$WORK/web.yaml"
    assert_success
    assert_output "Pods stopped:
Pods removed:
Volumes removed:
webdata"
    run_den volume ls -q
    assert_output ""
}

@test "kube play --replace, stdin, play kube spelling, --start=false" {
    local port
    port=$(free_port)
    write_web_yaml "$port"
    run_den kube play --start=false "$WORK/web.yaml"
    assert_success
    run_den ps -a --format '{{.Names}} {{.State}}' -f name=web-
    assert_line_matches '^web-srv created$'
    # Again without --replace: refused, nothing changes.
    run_den kube play "$WORK/web.yaml"
    assert_den_error 'pod "web" already exists'
    local before
    before=$(den ps -aq --no-trunc | sort)
    run_sh "cat '$WORK/web.yaml' | \$DEN play kube --replace -"
    assert_success
    [[ $(den ps -aq --no-trunc | sort) != "$before" ]]
    run fetch "http://127.0.0.1:$port/"
    assert_output "hello from kube prod"
    run_den pod ps -q
    assert_line_count 1
    # podman's --down spelling of kube down.
    run_den kube play --down "$WORK/web.yaml"
    assert_success
    assert_output_contains "Pods removed:"
    run_den pod ps -aq
    assert_output ""
}

@test "kube generate, down, play: the same containers, ports and env" {
    local port
    port=$(free_port)
    run_den run -d --name app -p "$port:80" -e A=1 -e "B=two words" -w /tmp --restart on-failure -l tier=front \
        bb sh -c 'echo "$A $B" >/tmp/index.html && exec httpd -f -p 80 -h /tmp'
    assert_success
    run fetch "http://127.0.0.1:$port/"
    assert_output "1 two words"
    run_den kube generate app
    assert_success
    assert_output_contains "kind: Pod"
    assert_output_contains "name: app-pod"
    assert_output_contains "hostPort: $port"
    assert_output_not_contains "PATH="
    printf '%s\n' "$output" >"$WORK/app.yaml"
    run_den generate kube -f "$WORK/app2.yaml" -s app
    assert_success
    grep -q "kind: Service" "$WORK/app2.yaml"
    den rm -f app >/dev/null
    run_den kube play "$WORK/app.yaml"
    assert_success
    run fetch "http://127.0.0.1:$port/"
    assert_output "1 two words"
    run_den inspect -f '{{.Config.WorkingDir}} {{.HostConfig.RestartPolicy.Name}} {{index .Config.Labels "tier"}}' app-pod-app
    assert_output "/tmp on-failure front"
    run_den exec app-pod-app sh -c 'echo "$A|$B"'
    assert_output "1|two words"
    # And the pod generates back to the same YAML (but the time stamp).
    run_den kube generate app-pod
    assert_success
    diff <(grep -v creationTimestamp "$WORK/app.yaml") <(printf '%s\n' "$output" | grep -v creationTimestamp)
    run_den kube down "$WORK/app.yaml"
    assert_success
    run_den ps -aq
    assert_output ""
}

@test "kube play: a Deployment (one replica), emptyDir shared, init container" {
    cat >"$WORK/dep.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 3
  template:
    metadata:
      labels: {app: api}
    spec:
      initContainers:
      - name: init
        image: bb
        command: ["sh", "-c", "echo prepared >/shared/ready"]
        volumeMounts: [{name: scratch, mountPath: /shared}]
      containers:
      - name: a
        image: bb
        command: ["sleep", "1000"]
        volumeMounts: [{name: scratch, mountPath: /shared}]
      - name: b
        image: bb
        command: ["sleep", "1000"]
        volumeMounts: [{name: scratch, mountPath: /x}]
      volumes:
      - name: scratch
        emptyDir: {}
EOF
    run_den kube play "$WORK/dep.yaml"
    assert_success
    assert_stderr_contains "limiting replica count to 1"
    run_den ps --format '{{.Names}}'
    assert_line_matches '^api-pod-a$'
    assert_line_matches '^api-pod-b$'
    assert_no_line_matches 'init'
    run_den exec api-pod-b cat /x/ready
    assert_output "prepared"
    run_den kube down "$WORK/dep.yaml"
    assert_success
    # The emptyDir volume went with the pod.
    run_den volume ls -q
    assert_output ""
}

@test "kube play: bad input is one error, exit 125, nothing created" {
    local port
    port=$(free_port)
    write_web_yaml "$port"
    snapshot() { echo "pods: $(den pod ps -aq)"; echo "ctrs: $(den ps -aq)"; echo "vols: $(den volume ls -q)"; }
    local before
    before=$(snapshot)
    printf 'kind: Pod\nmetadata:\n  name: [x\n' >"$WORK/syntax.yaml"
    run_den kube play "$WORK/syntax.yaml"
    assert_den_error "syntax.yaml: line [0-9]+, column [0-9]+: YAML syntax error"
    printf 'kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n' >"$WORK/noimage.yaml"
    run_den kube play "$WORK/noimage.yaml"
    assert_den_error 'noimage.yaml: document 1 \(Pod "p"\), line 5: spec.containers\[0\] \("c"\).image: missing'
    { cat "$WORK/web.yaml"; printf -- '---\nkind: Frobnicator\nmetadata: {name: f}\n'; } >"$WORK/kind.yaml"
    run_den kube play "$WORK/kind.yaml"
    assert_den_error 'document 4 \(Frobnicator\), line [0-9]+: kind: unsupported kind "Frobnicator"'
    # A failure half way (the second pod's image is missing): the first pod,
    # its containers and the claim are removed again.
    { cat "$WORK/web.yaml"; printf -- '---\nkind: Pod\nmetadata: {name: second}\nspec:\n  containers:\n  - {name: c, image: "localhost/nosuch:1", command: [true]}\n'; } >"$WORK/half.yaml"
    run_den kube play "$WORK/half.yaml"
    assert_failure 125
    assert_stderr_contains "pod second: container c"
    [[ "$(snapshot)" == "$before" ]] || fail "left behind: $(snapshot)"
    run_den kube play "$WORK/nosuch.yaml"
    assert_den_error 'nosuch.yaml: no such file'
}

@test "kube play --service-container: MAINPID of the infra's monitor, READY=1, not from the containers" {
    notify_listener "$WORK/notify.sock" "$WORK/notify.out"
    cat >"$WORK/svc.yaml" <<'EOF'
kind: Pod
metadata: {name: svc}
spec:
  containers:
  - {name: one, image: bb, command: [sleep, "1000"]}
  - {name: two, image: bb, command: [sleep, "1000"]}
EOF
    NOTIFY_SOCKET=$WORK/notify.sock den kube play --replace --service-container=true "$WORK/svc.yaml" >/dev/null
    wait_for 10 'grep -q READY=1 "$WORK/notify.out"'
    local mainpid
    mainpid=$(sed -n 's/^MAINPID=//p' "$WORK/notify.out")
    [[ $(grep -c MAINPID "$WORK/notify.out") == 1 ]] || { cat "$WORK/notify.out"; fail "more than one MAINPID"; }
    [[ $(grep -c READY=1 "$WORK/notify.out") == 1 ]] || { cat "$WORK/notify.out"; fail "more than one READY"; }
    [[ $(cat /proc/$mainpid/comm) == den-monitor ]]
    # It is the infra container's monitor.
    local infra
    infra=$(den pod inspect -f '{{.InfraContainerID}}' svc)
    run_den inspect -f '{{.State.Pid}}' "$infra"
    [[ $(awk '{print $4}' /proc/$output/stat) == "$mainpid" ]] || fail "MAINPID $mainpid is not the infra's monitor"
    run_den ps --format '{{.Names}}' -f name=svc-
    assert_line_count 2
}

@test "kube play --publish replaces the YAML's hostPort of that container port; --network" {
    local port other
    port=$(free_port)
    other=$(free_port)
    write_web_yaml "$port"
    run_den kube play --publish "127.0.0.1:$other:80" "$WORK/web.yaml"
    assert_success
    run fetch "http://127.0.0.1:$other/"
    assert_output "hello from kube prod"
    run_den pod inspect -f '{{.InfraContainerID}}' web
    assert_success
    run_den port "$output"
    assert_output "80/tcp -> 127.0.0.1:$other"
    run_den kube down "$WORK/web.yaml"
    assert_success
    # --network none: the pod has no published ports to set up.
    sed -i '/hostPort/d' "$WORK/web.yaml"
    run_den kube play --network none "$WORK/web.yaml"
    assert_success
    run_den inspect -f '{{.HostConfig.NetworkMode}}' "$(den pod inspect -f '{{.InfraContainerID}}' web)"
    assert_output "none"
    # A bad --publish is refused before --replace removes the running pod.
    run_den kube play --replace --publish nonsense "$WORK/web.yaml"
    assert_den_error 'nonsense'
    run_den pod ps --format '{{.Name}} {{.Status}}'
    assert_output "web Running"
}
