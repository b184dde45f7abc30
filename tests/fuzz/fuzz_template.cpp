// Go templates (src/util/template.cpp): parse the input as a --format
// template and execute it against a container's inspect JSON (with typed
// nils, structs and a method as `den ps` has them).
#include <cctype>

#include "common.h"
#include "den/template.h"

namespace {

const char* kInspect = R"({
  "Id": "3b1d3a4c0f9e2b7a5d6c8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
  "Created": "2026-11-28T10:00:00.123456789Z",
  "Path": "httpd", "Args": ["-f", "-p", "8080"],
  "State": {"Status": "running", "Running": true, "Paused": false, "Pid": 4242, "ExitCode": 0,
            "StartedAt": "2026-11-28T10:00:01Z", "Health": null},
  "Image": "sha256:9b1d3a4c0f9e2b7a5d6c8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9012345",
  "Name": "/web", "RestartCount": 2, "Mounts": [{"Type": "volume", "Name": "data", "Destination": "/data", "RW": true}],
  "Config": {"Hostname": "3b1d3a4c0f9e", "Env": ["PATH=/usr/bin:/bin", "A=1"], "Cmd": ["httpd", "-f"],
             "Entrypoint": null, "Labels": {"app": "web", "tier": "front"}, "ExposedPorts": {"80/tcp": {}},
             "StopSignal": "SIGTERM", "Tty": false},
  "HostConfig": {"Memory": 314572800, "NanoCpus": 1500000000, "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                 "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}, "Binds": null},
  "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]},
                      "Networks": {"slirp4netns": {"IPAddress": "10.0.2.100", "Aliases": null}}},
  "Sizes": [0, 1, -1, 1.5, 18446744073709551615, -9223372036854775808]
})";

struct Data {
  den::Json dot;
  den::GoStructs structs;
  den::TemplateMethods methods;
};

const Data& data() {
  static Data* d = [] {
    auto* d = new Data;
    d->dot = den::Json::parse(kInspect);
    den::mark_go_nils(d->dot, {{"State.Health", den::GoNil::Pointer, "*types.Health", false},
                              {"Config.Entrypoint", den::GoNil::Slice, "[]string", false},
                              {"HostConfig.Binds", den::GoNil::Slice, "[]string", false},
                              {"NetworkSettings.Networks.*.Aliases", den::GoNil::Slice, "[]string", true}});
    d->structs = den::go_structs(d->dot, den::GoShape{{"Config.Labels", "Config.ExposedPorts", "HostConfig.PortBindings",
                                                      "NetworkSettings.Ports", "NetworkSettings.Networks"},
                                                     {"State", "HostConfig", "NetworkSettings.Networks.*"}});
    d->methods["Label"] = [](const den::Json& self, const std::vector<den::Json>& args) -> den::Json {
      if (args.size() != 1 || !args[0].is_string() || !self.is_object()) return "";
      return self.value("Config", den::Json::object()).value("Labels", den::Json::object()).value(args[0].get<std::string>(), "");
    };
    return d;
  }();
  return *d;
}

// Templates that ask for a lot of work are legitimate ({{range 100000000}},
// a width of 10^8 in printf) but useless here: they time out or exhaust
// memory as they would in Go. Kept out: numbers of more than two characters
// and more than two {{range}}s (nested ranges over 512-byte strings' len are
// the largest left).
bool too_much_work(const std::string& text) {
  for (size_t i = 0; i < text.size();) {
    if (std::isdigit(static_cast<unsigned char>(text[i]))) {
      size_t j = i;
      while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '.' || text[j] == '_')) j++;
      if (j - i > 2) return true;
      i = j;
    } else if (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_') {
      while (i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) i++;
    } else {
      i++;
    }
  }
  size_t ranges = 0;
  for (size_t p = text.find("range"); p != std::string::npos; p = text.find("range", p + 1)) ranges++;
  return ranges > 2;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  den::log::set_level(den::log::Level::Error);
  data();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size > 512) return -1;  // templates are command-line arguments
  std::string text = fuzz::text(bytes, size);
  if (too_much_work(text)) return -1;
  const Data& d = data();
  fuzz::expect_den_errors([&] {
    den::Template t = den::Template::parse(text);
    t.execute(d.dot, &d.methods, &d.structs);
    t.execute(den::strip_go_nils(d.dot));
    t.execute(d.dot["Config"]["Env"]);
  });
  return 0;
}
