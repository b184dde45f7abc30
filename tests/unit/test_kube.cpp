#include <catch2/catch.hpp>

#include "den/error.h"
#include "den/kube.h"

using namespace den;
using namespace den::kube;

namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_kube_yaml(yaml, "t.yaml");
  } catch (const Error& e) {
    CHECK(e.code() == Errc::Invalid);
    return e.what();
  }
  return "";
}

bool has(const std::vector<std::string>& v, const std::vector<std::string>& seq) {
  return std::search(v.begin(), v.end(), seq.begin(), seq.end()) != v.end();
}

const char* kFull = R"(apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  MODE: fast
  LEVEL: "3"
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
  labels:
    tier: db
spec:
  accessModes: [ReadWriteOnce]
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
  annotations:
    note: hi
  unknownField: ignored
spec:
  hostname: box
  restartPolicy: OnFailure
  securityContext:
    runAsUser: 1000
  initContainers:
  - name: setup
    image: bb
    command: [sh, -c, "echo init"]
  containers:
  - name: app
    image: bb
    command: ["httpd"]
    args: ["-f", "-p", "8080"]
    workingDir: /srv
    env:
    - name: A
      value: "1"
    - name: EMPTY
    - name: M
      valueFrom:
        configMapKeyRef: {name: settings, key: MODE}
    envFrom:
    - configMapRef: {name: settings}
      prefix: CFG_
    ports:
    - containerPort: 8080
      hostPort: 18080
    - containerPort: 53
      protocol: UDP
      hostPort: 1053
      hostIP: 127.0.0.1
    - containerPort: 9000
    volumeMounts:
    - {name: store, mountPath: /data}
    - {name: host, mountPath: /host, readOnly: true, subPath: sub}
    - {name: scratch, mountPath: /scratch}
    - {name: mem, mountPath: /mem}
    securityContext:
      runAsGroup: 100
      privileged: false
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities:
        add: [NET_ADMIN]
        drop: [MKNOD]
    resources:
      limits: {memory: 128Mi, cpu: 500m}
      requests: {memory: 64Mi}
    stdin: true
    tty: true
    livenessProbe:
      exec:
        command: [wget, -qO-, localhost:8080]
      periodSeconds: 5
      failureThreshold: 2
  - name: side
    image: bb
    args: [sleep, "1000"]
    volumeMounts:
    - {name: scratch, mountPath: /shared}
  volumes:
  - name: store
    persistentVolumeClaim: {claimName: data}
  - name: host
    hostPath: {path: /srv/www, type: Directory}
  - name: scratch
    emptyDir: {}
  - name: mem
    emptyDir: {medium: Memory}
)";

}  // namespace

TEST_CASE("kube: a Pod with every field becomes a plan", "[kube]") {
  Plan p = parse_kube_yaml(kFull, "t.yaml");
  REQUIRE(p.volumes.size() == 1);
  CHECK(p.volumes[0].name == "data");
  CHECK(p.volumes[0].labels.at("tier") == "db");
  REQUIRE(p.pods.size() == 1);
  const PodPlan& pod = p.pods[0];
  CHECK(pod.name == "web");
  CHECK(pod.labels.at("app") == "web");
  CHECK(pod.annotations.at("note") == "hi");
  CHECK(pod.hostname == "box");
  CHECK_FALSE(pod.host_network);
  CHECK(pod.restart_policy == "OnFailure");
  CHECK(pod.empty_dirs == std::vector<std::string>{"scratch"});
  REQUIRE(pod.ports.size() == 2);
  CHECK(pod.ports[0].host_port == 18080);
  CHECK(pod.ports[0].container_port == 8080);
  CHECK(pod.ports[1].protocol == "udp");
  CHECK(pod.ports[1].host_ip == "127.0.0.1");
  REQUIRE(pod.init_containers.size() == 1);
  CHECK(pod.init_containers[0].name == "web-setup");
  CHECK(pod.init_containers[0].restart == "no");
  REQUIRE(pod.containers.size() == 2);
  const ContainerPlan& c = pod.containers[0];
  CHECK(c.name == "web-app");
  CHECK(c.kube_name == "app");
  CHECK(c.image == "bb");
  CHECK(c.command == std::vector<std::string>{"httpd"});
  CHECK(c.args == std::vector<std::string>{"-f", "-p", "8080"});
  CHECK(c.workdir == "/srv");
  // envFrom first, env entries over it.
  CHECK(c.env == std::vector<std::string>{"CFG_LEVEL=3", "CFG_MODE=fast", "A=1", "EMPTY=", "M=fast"});
  CHECK(c.ports.size() == 3);
  REQUIRE(c.mounts.size() == 4);
  CHECK(c.mounts[0].kind == MountPlan::Kind::Claim);
  CHECK(c.mounts[0].source == "data");
  CHECK(c.mounts[1].kind == MountPlan::Kind::HostPath);
  CHECK(c.mounts[1].source == "/srv/www/sub");
  CHECK(c.mounts[1].read_only);
  CHECK(c.mounts[1].host_path_type == "Directory");
  CHECK(c.mounts[2].kind == MountPlan::Kind::EmptyDir);
  CHECK(c.mounts[3].kind == MountPlan::Kind::Tmpfs);
  CHECK(c.user == "1000:100");  // the pod's runAsUser, the container's runAsGroup
  CHECK_FALSE(c.privileged);
  CHECK(c.read_only);
  CHECK(c.no_new_privileges);
  CHECK(c.cap_add == std::vector<std::string>{"NET_ADMIN"});
  CHECK(c.cap_drop == std::vector<std::string>{"MKNOD"});
  CHECK(c.memory == 134217728);
  CHECK(c.cpus == "0.5");
  CHECK(c.stdin_open);
  CHECK(c.tty);
  CHECK(c.restart == "on-failure");
  CHECK(c.health_cmd == std::vector<std::string>{"wget", "-qO-", "localhost:8080"});
  CHECK(c.health_interval == 5);
  CHECK(c.health_timeout == 1);
  CHECK(c.health_retries == 2);
  CHECK(c.labels.at("app") == "web");
  CHECK(pod.containers[1].args == std::vector<std::string>{"sleep", "1000"});
  CHECK_FALSE(pod.containers[1].has_command);
}

TEST_CASE("kube: containers become den create arguments", "[kube]") {
  Plan p = parse_kube_yaml(kFull, "t.yaml");
  const ContainerPlan& c = p.pods[0].containers[0];
  std::vector<std::string> a = create_args(c, {{"scratch", "abc123"}}, "web");
  CHECK(has(a, {"--name", "web-app", "--pod", "web", "--entrypoint=[\"httpd\"]"}));
  CHECK(has(a, {"--env", "A=1"}));
  CHECK(has(a, {"--workdir", "/srv"}));
  CHECK(has(a, {"--expose", "53/udp"}));
  CHECK(has(a, {"--volume", "data:/data"}));
  CHECK(has(a, {"--volume", "/srv/www/sub:/host:ro"}));
  CHECK(has(a, {"--volume", "abc123:/scratch"}));
  CHECK(has(a, {"--tmpfs", "/mem"}));
  CHECK(has(a, {"--user", "1000:100"}));
  CHECK(has(a, {"--read-only", "--security-opt", "no-new-privileges", "--cap-add", "NET_ADMIN", "--cap-drop", "MKNOD"}));
  CHECK(has(a, {"--memory", "134217728", "--cpus", "0.5", "--interactive", "--tty", "--restart", "on-failure"}));
  CHECK(has(a, {"--health-cmd", "[\"CMD\",\"wget\",\"-qO-\",\"localhost:8080\"]", "--health-interval", "5s"}));
  CHECK(has(a, {"--label", "app=web", "bb", "-f", "-p", "8080"}));
  CHECK(a.back() == "8080");
  // Without a command the image's entrypoint stays; args replace its Cmd.
  std::vector<std::string> side = create_args(p.pods[0].containers[1], {}, "");
  CHECK_FALSE(has(side, {"--pod"}));
  CHECK(std::find_if(side.begin(), side.end(), [](const std::string& s) { return s.rfind("--entrypoint", 0) == 0; }) ==
        side.end());
  CHECK(has(side, {"bb", "sleep", "1000"}));
  std::string d = describe(p);
  CHECK(d.find("volume data\n") != std::string::npos);
  CHECK(d.find("pod web (Pod) restart=OnFailure hostname=box label=app=web publish=18080:8080/tcp "
               "publish=127.0.0.1:1053:53/udp\n") != std::string::npos);
  CHECK(d.find("  init: den create --name web-setup --pod web") != std::string::npos);
}

TEST_CASE("kube: Deployment, hostNetwork and restart policies", "[kube]") {
  Plan p = parse_kube_yaml(R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 3
  template:
    metadata:
      labels: {app: api}
    spec:
      hostNetwork: true
      containers:
      - name: srv
        image: bb
        ports: [{containerPort: 80, hostPort: 8080}]
---
kind: Service
apiVersion: v1
metadata: {name: api}
---
kind: Pod
metadata: {name: never}
spec:
  restartPolicy: Never
  containers: [{name: c, image: bb}]
)",
                           "t.yaml");
  REQUIRE(p.pods.size() == 2);
  CHECK(p.pods[0].name == "api-pod");
  CHECK(p.pods[0].kind == "Deployment");
  CHECK(p.pods[0].host_network);
  CHECK(p.pods[0].ports.empty());  // the host's network: nothing to publish
  CHECK(p.pods[0].labels.at("app") == "api");
  CHECK(p.pods[0].containers[0].name == "api-pod-srv");
  CHECK(p.pods[0].containers[0].restart == "always");  // Kubernetes' default
  REQUIRE(p.warnings.size() == 1);
  CHECK(p.warnings[0] == "t.yaml: document 1 (Deployment \"api\"): limiting replica count to 1, more than one replica "
                         "is not supported by den");
  CHECK(p.pods[1].containers[0].restart == "no");
  std::vector<std::string> never = create_args(p.pods[1].containers[0], {}, "");
  CHECK(std::find(never.begin(), never.end(), "--restart") == never.end());
}

TEST_CASE("kube: quantities", "[kube]") {
  CHECK(parse_memory_quantity("128Mi") == 134217728);
  CHECK(parse_memory_quantity("1Gi") == 1073741824);
  CHECK(parse_memory_quantity("500M") == 500000000);
  CHECK(parse_memory_quantity("1e9") == 1000000000);
  CHECK(parse_memory_quantity("1048576") == 1048576);
  CHECK_THROWS_AS(parse_memory_quantity("lots"), Error);
  CHECK_THROWS_AS(parse_memory_quantity("-1Mi"), Error);
  CHECK(cpu_quantity_to_cpus("500m") == "0.5");
  CHECK(cpu_quantity_to_cpus("2") == "2");
  CHECK(cpu_quantity_to_cpus("1.25") == "1.25");
  CHECK(cpu_quantity_to_cpus("100m") == "0.1");
  CHECK_THROWS_AS(cpu_quantity_to_cpus("m"), Error);
}

TEST_CASE("kube: bad input names the document, the field and the line", "[kube]") {
  CHECK(error_of("kind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - name: app\n") ==
        "t.yaml: document 1 (Pod \"web\"), line 5: spec.containers[0] (\"app\").image: missing: every container "
        "needs an image");
  CHECK(error_of("kind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n  - image: bb\n") ==
        "t.yaml: document 1 (Pod \"web\"), line 5: spec.containers[0].name: missing: every container needs a name");
  CHECK(error_of("kind: Pod\nmetadata: {name: web}\nspec:\n  containers: []\n") ==
        "t.yaml: document 1 (Pod \"web\"), line 4: spec.containers: missing: the pod needs at least one container");
  CHECK(error_of("kind: Pod\nmetadata: {name: web}\n") ==
        "t.yaml: document 1 (Pod \"web\"): spec: missing: the pod needs a spec with containers");
  CHECK(error_of("kind: Pod\nspec: {}\n") ==
        "t.yaml: document 1 (Pod), line 1: metadata.name: missing: name the pod");
  CHECK(error_of("kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: bb}]}\n---\nkind: Foo\n") ==
        "t.yaml: document 2 (Foo), line 5: kind: unsupported kind \"Foo\": den plays Pod, Deployment, "
        "PersistentVolumeClaim and ConfigMap");
  // (found by tests/fuzz/fuzz_kube: the byte reached a JSON dump, whose exception named neither file nor line)
  CHECK(error_of("kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: bb, command: [\"1\xb0\"]}]}\n") ==
        "t.yaml: line 3: not UTF-8 text (YAML files are Unicode)");
  CHECK(error_of("a: \xed\xa0\x80\n") == "t.yaml: line 1: not UTF-8 text (YAML files are Unicode)");
  CHECK(error_of("kind: Pod\nmetadata: {name: \"caf\xc3\xa9 \xf0\x9f\x90\xb3\"}\n") ==
        "t.yaml: document 1 (Pod \"caf\xc3\xa9 \xf0\x9f\x90\xb3\"): spec: missing: the pod needs a spec with containers");
  // (found by fuzz_kube: a list item that is no map escaped as yaml-cpp's "operator[] call on a scalar")
  CHECK(error_of("kind: Pod\nmetadata: {name: a}\nspec:\n  containers: [{name: c, image: bb}]\n  volumes:\n  - x\n")
            .find("t.yaml: document 1 (Pod \"a\"), line 6: spec.volumes[0].name: missing") == 0);
  // (found by fuzz_kube: yaml-cpp's LoadAll never returned on these)
  CHECK(error_of(",") == "t.yaml: line 1, column 1: YAML syntax error: unexpected ',' outside a flow collection");
  CHECK(error_of(",apiVersion: v0\n\x01\0\0\0v").find("t.yaml: line ") == 0);
  CHECK(error_of("metadata: {name: a}\n") ==
        "t.yaml: document 1, line 1: kind: missing: say what the document is (Pod, Deployment, ...)");
  CHECK(error_of("kind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    image: bb\n    ports:\n"
                 "    - containerPort: http\n") ==
        "t.yaml: document 1 (Pod \"a\"), line 8: spec.containers[0] (\"c\").ports[0].containerPort: must be an integer");
  CHECK(error_of("kind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    image: bb\n    volumeMounts:\n"
                 "    - {name: nope, mountPath: /x}\n") ==
        "t.yaml: document 1 (Pod \"a\"), line 8: spec.containers[0] (\"c\").volumeMounts[0].name: no volume \"nope\" in "
        "spec.volumes");
  CHECK(error_of("kind: Pod\nmetadata: {name: a}\nspec:\n  volumes: [{name: s, secret: {secretName: x}}]\n"
                 "  containers:\n  - name: c\n    image: bb\n    volumeMounts: [{name: s, mountPath: /x}]\n") ==
        "t.yaml: document 1 (Pod \"a\"), line 4: spec.volumes[s]: den supports hostPath, persistentVolumeClaim and "
        "emptyDir volumes");
  CHECK(error_of("kind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    image: bb\n    env:\n"
                 "    - name: X\n      valueFrom: {configMapKeyRef: {name: cm, key: k}}\n") ==
        "t.yaml: document 1 (Pod \"a\"), line 9: spec.containers[0] (\"c\").env[0].valueFrom.configMapKeyRef: no "
        "ConfigMap \"cm\" in this file");
  CHECK(error_of("kind: Pod\nmetadata: {name: a}\nspec:\n  restartPolicy: Sometimes\n  containers: [{name: c, image: bb}]\n") ==
        "t.yaml: document 1 (Pod \"a\"), line 4: spec.restartPolicy: \"Sometimes\": use Always, OnFailure or Never");
  CHECK(error_of("kind: Pod\nmetadata: {name: a}\nspec:\n  containers: [{name: c, image: bb}, {name: c, image: bb}]\n") ==
        "t.yaml: document 1 (Pod \"a\"), line 4: spec.containers: two containers are named \"c\"");
  // YAML syntax: the line and column.
  std::string e = error_of("kind: Pod\nmetadata:\n  name: [a\n");
  CHECK(e.rfind("t.yaml: line ", 0) == 0);
  CHECK(e.find("YAML syntax error") != std::string::npos);
  CHECK(error_of("kind: Pod\n  bad: indent\n").find("t.yaml: line 2, column") == 0);
}

TEST_CASE("kube: optional ConfigMap references and unknown fields", "[kube]") {
  Plan p = parse_kube_yaml(R"(kind: Pod
metadata: {name: a}
spec:
  whatever: {deep: [1, 2]}
  containers:
  - name: c
    image: bb
    imagePullPolicy: IfNotPresent
    env:
    - name: X
      valueFrom: {configMapKeyRef: {name: cm, key: k, optional: true}}
    envFrom:
    - configMapRef: {name: cm, optional: true}
)",
                           "t.yaml");
  CHECK(p.pods[0].containers[0].env.empty());
}

TEST_CASE("kube generate: a container becomes a Pod podman's way", "[kube]") {
  GenerateContainer g;
  ContainerConfig& c = g.config;
  c.name = "web";
  c.image_name = "bb";
  c.entrypoint = {"httpd"};
  c.cmd = {"-f", "-p", "8080"};
  c.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "IMG=1", "A=1", "B=two words"};
  c.workdir = "/srv";
  c.ports = {{"", 18080, 8080, "tcp", 1}, {"127.0.0.1", 1053, 53, "udp", 1}};
  c.mounts = {{"volume", "data", "/data", {"rw"}, false}, {"bind", "/tmp", "/host", {"ro"}, false},
              {"volume", "0123abcd", "/scratch", {}, true}};
  c.restart.name = "always";
  c.user = "1000:100";
  c.cap_add = {"NET_ADMIN"};
  c.no_new_privileges = true;
  c.resources.memory = 134217728;
  c.resources.nano_cpus = 500'000'000;
  c.health.test = {"CMD-SHELL", "wget -qO- localhost:8080"};
  c.health.interval = 5'000'000'000;
  c.health.timeout = 2'000'000'000;
  c.tty = true;
  g.image_config = Json::parse(R"({"Entrypoint": null, "Cmd": ["sh"], "Env": ["IMG=1"]})");
  GeneratePod pod;
  pod.name = "web-pod";
  pod.hostname = "box";
  pod.labels = {{"tier", "front"}};
  pod.containers = {g};
  std::string y = generate_kube_yaml({pod}, true, 1'700'000'000'123'456'789);
  CHECK(y.rfind("# Save the output of this file and use kubectl create -f to import\n", 0) == 0);
  CHECK(y.find("apiVersion: v1\nkind: Pod\nmetadata:\n  creationTimestamp: \"2023-11-14T22:13:20Z\"\n  labels:\n"
               "    app: web-pod\n    tier: front\n  name: web-pod\nspec:\n  containers:\n    - name: web\n") !=
        std::string::npos);
  // Played back, it is the same container.
  Plan p = parse_kube_yaml(y, "gen.yaml");
  REQUIRE(p.pods.size() == 1);
  const PodPlan& pp = p.pods[0];
  CHECK(pp.name == "web-pod");
  CHECK(pp.hostname == "box");
  CHECK(pp.labels.at("tier") == "front");
  CHECK(pp.restart_policy == "Always");
  REQUIRE(pp.containers.size() == 1);
  const ContainerPlan& pc = pp.containers[0];
  CHECK(pc.name == "web-pod-web");
  CHECK(pc.image == "bb");
  CHECK(pc.command == std::vector<std::string>{"httpd"});
  CHECK(pc.args == std::vector<std::string>{"-f", "-p", "8080"});
  CHECK(pc.env == std::vector<std::string>{"A=1", "B=two words"});
  CHECK(pc.workdir == "/srv");
  REQUIRE(pp.ports.size() == 2);
  CHECK(pp.ports[0].host_port == 18080);
  CHECK(pp.ports[1].host_ip == "127.0.0.1");
  CHECK(pp.ports[1].protocol == "udp");
  REQUIRE(pc.mounts.size() == 3);
  CHECK(pc.mounts[0].kind == MountPlan::Kind::Claim);
  CHECK(pc.mounts[0].source == "data");
  CHECK(pc.mounts[1].kind == MountPlan::Kind::HostPath);
  CHECK(pc.mounts[1].source == "/tmp");
  CHECK(pc.mounts[1].read_only);
  CHECK(pc.mounts[2].kind == MountPlan::Kind::EmptyDir);
  CHECK(pc.user == "1000:100");
  CHECK(pc.cap_add == std::vector<std::string>{"NET_ADMIN"});
  CHECK(pc.no_new_privileges);
  CHECK(pc.memory == 134217728);
  CHECK(pc.cpus == "0.5");
  CHECK(pc.health_cmd == std::vector<std::string>{"/bin/sh", "-c", "wget -qO- localhost:8080"});
  CHECK(pc.health_interval == 5);
  CHECK(pc.health_timeout == 2);
  CHECK(pc.tty);
  CHECK(y.find("kind: Service") != std::string::npos);
  CHECK(y.find("targetPort: 8080") != std::string::npos);
}

TEST_CASE("kube generate: the image's entrypoint and cmd are left out", "[kube]") {
  GenerateContainer g;
  g.config.name = "c";
  g.config.image_name = "bb";
  g.config.entrypoint = {"/entry"};
  g.config.cmd = {"run"};
  g.config.env = {"N=007"};
  g.image_config = Json::parse(R"({"Entrypoint": ["/entry"], "Cmd": ["run"]})");
  GeneratePod pod{"c-pod", {}, "", false, {}, {g}};
  std::string y = generate_kube_yaml({pod}, false, 0);
  CHECK(y.find("command") == std::string::npos);
  CHECK(y.find("args") == std::string::npos);
  CHECK(y.find("value: \"007\"") != std::string::npos);  // quoted: a string, not a number
  CHECK(y.find("restartPolicy: Never") != std::string::npos);
  CHECK(y.find("kind: Service") == std::string::npos);
  // The cmd alone differs: args, no command.
  pod.containers[0].config.cmd = {"other"};
  y = generate_kube_yaml({pod}, false, 0);
  CHECK(y.find("command") == std::string::npos);
  CHECK(y.find("args:\n        - other\n") != std::string::npos);
}

TEST_CASE("kube: the escapes \\N and \\_ are the characters they stand for, in UTF-8", "[kube]") {
  // yaml-cpp 0.7 decodes them to one raw byte each (found by fuzz_kube: the
  // container's config then was not valid JSON).
  Plan p = parse_kube_yaml(R"(kind: Pod
metadata: {name: a}
spec:
  containers:
  - name: c
    image: bb
    command: [sleep, "1\_0", "x\Ny"]
    env:
    - {name: "K\_", value: "v\_w"}
)",
                           "t.yaml");
  const auto& c = p.pods[0].containers[0];
  REQUIRE(c.command.size() == 3);
  CHECK(c.command[1] == "1\xC2\xA0" "0");
  CHECK(c.command[2] == "x\xC2\x85y");
  CHECK_NOTHROW(create_args(c, {}, "pod"));
}
