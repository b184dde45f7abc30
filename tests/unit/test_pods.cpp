#include <catch2/catch.hpp>
#include <sched.h>

#include "den/error.h"
#include "den/pod.h"
#include "den/runtime.h"

using namespace den;

namespace {
PodRecord pod_with_infra() {
  PodRecord p;
  p.id = std::string(64, 'b');
  p.name = "web";
  p.infra_id = std::string(64, 'c');
  p.shared = {"ipc", "net", "uts"};
  return p;
}
}  // namespace

TEST_CASE("pod status from its containers' states (podman's rules)", "[pods]") {
  using S = ContainerStatus;
  CHECK(pod_status({}) == "Created");
  CHECK(pod_status({S::Created}) == "Created");
  CHECK(pod_status({S::Created, S::Created}) == "Created");
  CHECK(pod_status({S::Running}) == "Running");
  CHECK(pod_status({S::Running, S::Running}) == "Running");
  CHECK(pod_status({S::Running, S::Exited}) == "Degraded");
  CHECK(pod_status({S::Running, S::Created}) == "Degraded");
  CHECK(pod_status({S::Exited, S::Exited}) == "Exited");
  CHECK(pod_status({S::Exited, S::Created}) == "Stopped");
  CHECK(pod_status({S::Paused, S::Paused}) == "Paused");
  CHECK(pod_status({S::Paused, S::Running}) == "Degraded");
}

TEST_CASE("pod names follow the container name rule", "[pods]") {
  CHECK(valid_pod_name("web"));
  CHECK(valid_pod_name("a.b_c-1"));
  CHECK(valid_pod_name("9lives"));
  CHECK_FALSE(valid_pod_name(""));
  CHECK_FALSE(valid_pod_name("-x"));
  CHECK_FALSE(valid_pod_name("a/b"));
  CHECK_FALSE(valid_pod_name("a b"));
  CHECK_FALSE(valid_pod_name(std::string(129, 'a')));
}

TEST_CASE("pod record JSON round trip", "[pods]") {
  PodRecord p = pod_with_infra();
  p.created = 42;
  p.hostname = "h";
  p.labels = {{"k", "v"}};
  p.exit_policy = "stop";
  p.infra_conmon_pidfile = "/run/x.pid";
  PodRecord q = pod_record_from_json(to_json(p));
  CHECK(q.id == p.id);
  CHECK(q.name == "web");
  CHECK(q.created == 42);
  CHECK(q.hostname == "h");
  CHECK(q.labels.at("k") == "v");
  CHECK(q.infra_id == p.infra_id);
  CHECK(q.shared == p.shared);
  CHECK(q.exit_policy == "stop");
  CHECK(q.infra_conmon_pidfile == "/run/x.pid");
  CHECK(q.effective_hostname() == "h");
  q.hostname.clear();
  CHECK(q.effective_hostname() == "web");
}

TEST_CASE("joining a pod: the infra's namespaces, the pod's host name, pod flags refused", "[pods]") {
  PodRecord p = pod_with_infra();
  ContainerConfig c;
  c.id = std::string(64, 'a');
  c.cmd = {"sh"};
  join_pod(p, c, {"name", "detach"});
  CHECK(c.pod == p.id);
  CHECK(c.network == "container:" + p.infra_id);
  CHECK(c.ipc == "container:" + p.infra_id);
  CHECK(c.uts == "container:" + p.infra_id);
  CHECK(c.pid == "private");
  CHECK(c.hostname == "web");
  for (const char* flag : {"publish", "publish-all", "network", "hostname", "dns", "add-host"}) {
    ContainerConfig d;
    REQUIRE_THROWS_AS(join_pod(p, d, {flag}), Error);
  }
  try {
    ContainerConfig d;
    join_pod(p, d, {"publish"});
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("published ports must be set on the pod") != std::string::npos);
    CHECK(e.code() == Errc::Invalid);
  }
  // Without an infra nothing is shared and the flags are the container's.
  PodRecord bare = p;
  bare.infra_id.clear();
  ContainerConfig e;
  join_pod(bare, e, {"publish", "hostname"});
  CHECK(e.pod == p.id);
  CHECK(e.network == "slirp4netns");
  // The plan joins (no new) net/ipc/uts namespaces for a member.
  Config cfg;
  RunPlan plan = build_plan(cfg, c, Json::object(), {"/l"}, "/c", "/c/userdata");
  CHECK(!(plan.clone_flags & CLONE_NEWNET));
  CHECK(!(plan.clone_flags & CLONE_NEWUTS));
  CHECK(!(plan.clone_flags & CLONE_NEWIPC));
  CHECK(plan.hostname.empty());
}

TEST_CASE("the infra's plan runs den-init --pause from its directory root", "[pods]") {
  ContainerConfig c;
  c.id = std::string(64, 'c');
  c.infra = true;
  c.rootfs = "/g/pods/infra-root";
  c.entrypoint = {"/run/den-init"};
  c.cmd = {"--pause"};
  c.hostname = "web";
  Config cfg;
  RunPlan plan = build_plan(cfg, c, Json::object(), {}, "/c", "/c/userdata");
  CHECK(plan.root_kind == RunPlan::RootKind::Directory);
  CHECK(plan.argv == std::vector<std::string>{"/run/den-init", "--pause"});
  CHECK(plan.hostname == "web");
  CHECK(plan.init_path.empty());
  bool has_init = false;
  for (const auto& m : plan.mounts) has_init = has_init || m.target == "/run/den-init";
  CHECK(has_init);
}
