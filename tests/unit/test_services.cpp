#include <catch2/catch.hpp>

#include <stdlib.h>
#include <unistd.h>

#include "den/error.h"
#include "den/events.h"
#include "den/fs.h"
#include "den/health.h"
#include "den/systemd.h"

using namespace den;

// ---- Quadlet -------------------------------------------------------------------------

TEST_CASE("quadlet: a .container file becomes a notify service", "[quadlet]") {
  std::string text =
      "# a web server\n[Unit]\nDescription=Web\n\n[Container]\nImage=bb\nContainerName=web\n"
      "Exec=httpd -f -p 8080 -h \"/var/www html\"\nEnvironment=A=1 \"B=two words\"\nPublishPort=8080:8080\n"
      "Label=app=web tier=front\nHealthCmd=wget -qO- localhost:8080\nHealthInterval=5s\n"
      "[Service]\nRestart=always\n[Install]\nWantedBy=default.target\n";
  UnitFile u = quadlet_convert("/q/web.container", text, "/usr/bin/den");
  CHECK(u.name == "web.service");
  CHECK(u.text.find("[Unit]\nDescription=Web\nSourcePath=/q/web.container\n") != std::string::npos);
  CHECK(u.text.find("Type=notify\nNotifyAccess=all\n") != std::string::npos);
  CHECK(u.text.find("ExecStart=/usr/bin/den run --name web --replace --rm -d --sdnotify=conmon "
                    "--env=A=1 \"--env=B=two words\" --publish=8080:8080 --label=app=web --label=tier=front "
                    "\"--health-cmd=wget -qO- localhost:8080\" --health-interval=5s bb httpd -f -p 8080 -h "
                    "\"/var/www html\"\n") != std::string::npos);
  CHECK(u.text.find("ExecStop=-/usr/bin/den stop web\n") != std::string::npos);
  CHECK(u.text.find("ExecStopPost=-/usr/bin/den rm -f web\n") != std::string::npos);
  CHECK(u.text.find("Restart=always\n") != std::string::npos);
  CHECK(u.text.find("[Install]\nWantedBy=default.target\n") != std::string::npos);
}

TEST_CASE("quadlet: default container name, continuation lines, Notify", "[quadlet]") {
  UnitFile u = quadlet_convert("/q/app.container", "[Container]\nImage=bb\nExec=sleep \\\n  100\nNotify=true\n", "den");
  CHECK(u.text.find("den run --name systemd-%N --replace --rm -d --sdnotify=container bb sleep 100\n") !=
        std::string::npos);
  // Notify=healthy: READY=1 when the health check passes (podman 5).
  u = quadlet_convert("/q/app.container", "[Container]\nImage=bb\nHealthCmd=true\nNotify=healthy\n", "den");
  CHECK(u.text.find("--sdnotify=healthy") != std::string::npos);
  CHECK(u.text.find("Type=notify\nNotifyAccess=all\n") != std::string::npos);
}

TEST_CASE("quadlet: errors name the file and line", "[quadlet]") {
  auto err = [](const std::string& file, const std::string& text) {
    try {
      quadlet_convert(file, text, "den");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(err("/q/a.container", "[Container]\nImage=bb\nFrobnicate=yes\n") ==
        "/q/a.container:3: unknown key \"Frobnicate\" in [Container] (`den quadlet generate --help` lists the keys "
        "den supports)");
  CHECK(err("/q/b.container", "[Unit]\nDescription=x\n[Container]\nExec=sh\n") ==
        "/q/b.container:3: [Container] has no Image= (the image to run is required)");
  CHECK(err("/q/c.container", "[Unit]\nDescription=x\n") == "/q/c.container:1: no [Container] section");
  CHECK(err("/q/d.container", "Image=bb\n") == "/q/d.container:1: \"Image=bb\" is outside of any [Section]");
  CHECK(err("/q/e.container", "[Container]\nImage=bb\nReadOnly=maybe\n") ==
        "/q/e.container:3: ReadOnly=maybe: not a boolean (use true or false)");
  CHECK(err("/q/f.container", "[Container\nImage=bb\n") == "/q/f.container:1: invalid section header \"[Container\"");
  CHECK(err("/q/g.container", "[Contianer]\nImage=bb\n").find("/q/g.container:1: unknown section [Contianer]") == 0);
  CHECK(err("/q/h.kube", "[Kube]\nPublishPort=8080:80\n") ==
        "/q/h.kube:1: [Kube] has no Yaml= (the Kubernetes YAML file to play is required)");
  CHECK(err("/q/i.pod", "[Pod]\nPodName=p\nColour=red\n") == "/q/i.pod:3: unknown key \"Colour\" in [Pod]");
  CHECK(err("/q/j.container", "[Container]\nImage=bb\nPod=web\n") ==
        "/q/j.container:3: Pod=web: name a .pod Quadlet file, as in Pod=web.pod");
  CHECK(err("/q/i.container", "[Container]\nImage=bb\nExec=sh -c \"unterminated\n").find("/q/i.container:3: "
                                                                                      "unterminated quote") == 0);
}

TEST_CASE("quadlet: .volume and .network become oneshot units", "[quadlet]") {
  UnitFile v = quadlet_convert("/q/data.volume", "[Volume]\nVolumeName=data\nLabel=a=b\n", "den");
  CHECK(v.name == "data-volume.service");
  CHECK(v.text.find("Type=oneshot\nRemainAfterExit=yes\nExecStart=den volume create --ignore --label=a=b data\n") !=
        std::string::npos);
  UnitFile n = quadlet_convert("/q/net.network", "[Network]\nSubnet=10.9.0.0/24\n", "den");
  CHECK(n.name == "net-network.service");
  CHECK(n.text.find("ExecStart=den network create --ignore --subnet=10.9.0.0/24 systemd-net\n") != std::string::npos);
}

TEST_CASE("systemd quoting and word splitting round-trip", "[quadlet]") {
  CHECK(systemd_quote("plain") == "plain");
  CHECK(systemd_quote("a b") == "\"a b\"");
  CHECK(systemd_quote("100%") == "100%%");
  CHECK(systemd_quote("$HOME") == "$$HOME");
  CHECK(systemd_quote("say \"hi\"") == "\"say \\\"hi\\\"\"");
  CHECK(systemd_quote("") == "\"\"");
  CHECK(split_unit_words("a 'b c' \"d \\\" e\" f\\ g") == std::vector<std::string>{"a", "b c", "d \" e", "f g"});
}

// ---- generate systemd ----------------------------------------------------------------

TEST_CASE("generate systemd: start/stop unit and --new unit", "[systemd]") {
  ContainerConfig c;
  c.id = std::string(64, 'f');
  c.name = "web";
  c.stop_timeout = 7;
  GenerateOptions o;
  o.den_path = "/usr/bin/den";
  UnitFile u = generate_systemd_unit(c, o);
  CHECK(u.name == "container-" + c.id + ".service");
  CHECK(u.text.find("ExecStart=/usr/bin/den start web\n") != std::string::npos);
  CHECK(u.text.find("ExecStop=-/usr/bin/den stop -t 7 web\n") != std::string::npos);
  CHECK(u.text.find("TimeoutStopSec=67\n") != std::string::npos);
  CHECK(u.text.find("Type=notify\nNotifyAccess=all\n") != std::string::npos);
  o.new_container = true;
  o.use_name = true;
  o.restart_policy = "always";
  o.run_args = {"--env=A=1 2", "bb", "httpd", "-f"};
  u = generate_systemd_unit(c, o);
  CHECK(u.name == "container-web.service");
  CHECK(u.text.find("ExecStart=/usr/bin/den run -d --replace --rm --sdnotify=conmon --name web \"--env=A=1 2\" bb "
                    "httpd -f\n") != std::string::npos);
  CHECK(u.text.find("ExecStopPost=-/usr/bin/den rm -f web\n") != std::string::npos);
  CHECK(u.text.find("Restart=always\n") != std::string::npos);
  o.restart_policy = "sometimes";
  CHECK_THROWS_WITH(generate_systemd_unit(c, o), Catch::Contains("invalid --restart-policy \"sometimes\""));
}

// ---- health ------------------------------------------------------------------------------

TEST_CASE("health: starting -> healthy -> unhealthy after retries; start period", "[health]") {
  HealthLog h;
  HealthResult ok{1, 2, 0, "fine"}, bad{3, 4, 1, "down"};
  apply_health_result(h, bad, 3, true);  // in the start period: does not count
  CHECK(h.status == "starting");
  CHECK(h.failing_streak == 0);
  apply_health_result(h, ok, 3, true);
  CHECK(h.status == "healthy");
  apply_health_result(h, bad, 3, true);  // after a success the start period is over
  apply_health_result(h, bad, 3, false);
  CHECK(h.status == "healthy");
  CHECK(h.failing_streak == 2);
  apply_health_result(h, bad, 3, false);
  CHECK(h.status == "unhealthy");
  apply_health_result(h, bad, 3, false);
  apply_health_result(h, bad, 3, false);
  CHECK(h.log.size() == 5);
  CHECK(h.log.back().output == "down");
  apply_health_result(h, ok, 3, false);
  CHECK(h.status == "healthy");
  CHECK(h.failing_streak == 0);
}

TEST_CASE("health: config forms and JSON", "[health]") {
  HealthConfig h;
  CHECK(!h.enabled());
  h.test = {"CMD-SHELL", "wget -q localhost"};
  CHECK(h.argv() == std::vector<std::string>{"/bin/sh", "-c", "wget -q localhost"});
  h.test = {"CMD", "true", "x"};
  CHECK(h.argv() == std::vector<std::string>{"true", "x"});
  h.test = {"NONE"};
  CHECK(!h.enabled());
  Json img = {{"Test", {"CMD", "check"}}, {"Interval", 5000000000LL}, {"Retries", 0}};
  HealthConfig fi = health_config_from_image(img);
  CHECK(fi.interval == 5000000000LL);
  CHECK(fi.retries == 3);
  CHECK(fi.timeout == 30000000000LL);
  HealthConfig back = health_config_from_json(to_json(fi));
  CHECK(back.test == fi.test);
  CHECK(back.interval == fi.interval);
}

// ---- events --------------------------------------------------------------------------------

TEST_CASE("events: filters as docker's", "[events]") {
  Event e;
  e.type = "container";
  e.action = "health_status: healthy";
  e.id = "abcdef0123";
  e.attributes = {{"name", "web"}, {"image", "bb"}, {"tier", "front"}};
  auto m = [&](std::vector<std::string> f) { return EventFilter::parse(f).matches(e); };
  CHECK(m({}));
  CHECK(m({"type=container"}));
  CHECK(!m({"type=image"}));
  CHECK(m({"event=health_status"}));
  CHECK(m({"event=health_status: healthy"}));
  CHECK(m({"event=die", "event=health_status"}));  // one key: OR
  CHECK(!m({"event=die", "container=web"}));       // keys: AND
  CHECK(m({"container=web"}));
  CHECK(m({"container=abcdef"}));
  CHECK(!m({"container=db"}));
  CHECK(m({"image=bb"}));
  CHECK(m({"label=tier"}));
  CHECK(m({"label=tier=front"}));
  CHECK(!m({"label=tier=back"}));
  CHECK_THROWS_WITH(EventFilter::parse({"colour=red"}), Catch::Contains("unknown key \"colour\""));
  CHECK_THROWS_WITH(EventFilter::parse({"type"}), Catch::Contains("use KEY=VALUE"));
}

TEST_CASE("events: written, read back in order, rotated by size", "[events]") {
  TempDir t("/tmp", "den-events-test");
  Config cfg;
  cfg.runroot = t.path();
  for (int i = 0; i < 3; i++) {
    Event e;
    e.type = "container";
    e.action = i == 2 ? "die" : "start";
    e.id = "id" + std::to_string(i);
    e.time = 1000 + i;
    emit_event(cfg, e);
  }
  std::vector<std::string> seen;
  EventQuery q;
  read_events(cfg, q, [&](const Event& e) {
    seen.push_back(e.id);
    return true;
  });
  CHECK(seen == std::vector<std::string>{"id0", "id1", "id2"});
  q.filter = EventFilter::parse({"event=die"});
  seen.clear();
  read_events(cfg, q, [&](const Event& e) {
    seen.push_back(e.action);
    return true;
  });
  CHECK(seen == std::vector<std::string>{"die"});
  // Rotation: the old generation is read first.
  rotate_events_if_needed(events_path(cfg), 10);
  CHECK(path_exists(events_path(cfg) + ".1"));
  Event e4;
  e4.type = "image";
  e4.action = "pull";
  e4.id = "bb";
  e4.time = 2000;
  emit_event(cfg, e4);
  seen.clear();
  read_events(cfg, EventQuery{}, [&](const Event& e) {
    seen.push_back(e.id);
    return true;
  });
  CHECK(seen == std::vector<std::string>{"id0", "id1", "id2", "bb"});
  CHECK(format_event_line(e4) == "1970-01-01T00:00:00.000002000Z image pull bb");
}

// ---- Quadlet .pod, .kube and references between files -------------------------------

TEST_CASE("quadlet: .pod, its member containers, .network and .volume references", "[quadlet]") {
  char tmpl[] = "/tmp/den-quadlet-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::string d = tmpl;
  auto put = [&](const std::string& name, const std::string& text) {
    write_file_atomic(d + "/" + name, text, 0644, Sync::None);
    return QuadletFile{name, d + "/" + name};
  };
  std::vector<QuadletFile> all = {
      put("web.pod", "[Pod]\nPodName=webpod\nPublishPort=8080:80\nNetwork=lan.network\nLabel=a=b c=d\n"),
      put("app.container", "[Container]\nImage=bb\nPod=web.pod\nVolume=data.volume:/data:ro\n"),
      put("db.container", "[Container]\nImage=bb\nPod=web.pod\nNetwork=other.network\n"),
      put("lan.network", "[Network]\nNetworkName=lan0\n"),
      put("data.volume", "[Volume]\n"),
  };
  UnitFile pod = quadlet_convert(all[0].path, read_file(all[0].path), "den", &all);
  CHECK(pod.name == "web-pod.service");
  CHECK(pod.text.find("ExecStartPre=den pod create --infra-conmon-pidfile=%t/%N.pid --pod-id-file=%t/%N.pod-id "
                      "--exit-policy=stop --replace --name=webpod --publish=8080:80 --network=lan0 --label=a=b "
                      "--label=c=d\n") != std::string::npos);
  CHECK(pod.text.find("ExecStart=den pod start --pod-id-file=%t/%N.pod-id\n") != std::string::npos);
  CHECK(pod.text.find("ExecStop=-den pod stop --pod-id-file=%t/%N.pod-id --ignore -t 10\n") != std::string::npos);
  CHECK(pod.text.find("ExecStopPost=-den pod rm --pod-id-file=%t/%N.pod-id --ignore --force\n") !=
        std::string::npos);
  CHECK(pod.text.find("Type=forking\n") != std::string::npos);
  // The old ID file goes before pod create, which refuses an existing one.
  CHECK(pod.text.find("ExecStartPre=/bin/rm -f %t/%N.pid %t/%N.pod-id\nType=forking\nExecStartPre=den pod create") !=
        std::string::npos);
  CHECK(pod.text.find("PIDFile=%t/%N.pid\n") != std::string::npos);
  CHECK(pod.text.find("Requires=lan-network.service\nAfter=lan-network.service\n") != std::string::npos);
  CHECK(pod.text.find("Wants=app.service\nBefore=app.service\n") != std::string::npos);
  CHECK(pod.text.find("Wants=db.service\nBefore=db.service\n") != std::string::npos);

  UnitFile app = quadlet_convert(all[1].path, read_file(all[1].path), "den", &all);
  CHECK(app.text.find("--pod=webpod --volume=systemd-data:/data:ro bb\n") != std::string::npos);
  CHECK(app.text.find("BindsTo=web-pod.service\nAfter=web-pod.service\n") != std::string::npos);
  CHECK(app.text.find("Requires=data-volume.service\nAfter=data-volume.service\n") != std::string::npos);
  UnitFile db = quadlet_convert(all[2].path, read_file(all[2].path), "den", &all);
  // A .network file that does not exist: the default name and unit.
  CHECK(db.text.find("--network=systemd-other bb\n") != std::string::npos);
  CHECK(db.text.find("Requires=other-network.service\n") != std::string::npos);
  UnitFile vol = quadlet_convert(all[4].path, read_file(all[4].path), "den", &all);
  CHECK(vol.text.find("ExecStart=den volume create --ignore systemd-data\n") != std::string::npos);
  for (const auto& f : all) ::unlink(f.path.c_str());
  ::rmdir(d.c_str());
}

TEST_CASE("quadlet: .kube plays the YAML in a notify unit", "[quadlet]") {
  UnitFile k = quadlet_convert("/q/app.kube",
                               "[Kube]\nYaml=app.yaml\nPublishPort=8080:80\nKubeDownForce=true\n"
                               "SetWorkingDirectory=yaml\nGlobalArgs=--log-level=debug\n",
                               "den");
  CHECK(k.name == "app-kube.service");
  CHECK(k.text.find("ExecStart=den --log-level=debug kube play --replace --service-container=true "
                    "--publish=8080:80 /q/app.yaml\n") != std::string::npos);
  CHECK(k.text.find("ExecStopPost=-den --log-level=debug kube down --force /q/app.yaml\n") != std::string::npos);
  CHECK(k.text.find("Type=notify\nNotifyAccess=all\n") != std::string::npos);
  CHECK(k.text.find("WorkingDirectory=/q\n") != std::string::npos);
  CHECK(k.text.find("KillMode=mixed\n") != std::string::npos);
}
