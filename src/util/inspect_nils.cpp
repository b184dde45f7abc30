// docker's slice, map and pointer fields of inspect output (den/inspect_nils.h).
#include "den/inspect_nils.h"

namespace den {

namespace {

// The container.Config fields shared by containers and images ("Config.").
void add_config_fields(std::vector<GoNilField>& f) {
  f.push_back({"Config.ExposedPorts", GoNil::Map, "nat.PortSet", true});
  f.push_back({"Config.Env", GoNil::Slice, "[]string"});
  f.push_back({"Config.Cmd", GoNil::Slice, "strslice.StrSlice"});
  f.push_back({"Config.Healthcheck", GoNil::Pointer, "*container.HealthConfig", true});
  f.push_back({"Config.Volumes", GoNil::Map, "map[string]struct {}"});
  f.push_back({"Config.Entrypoint", GoNil::Slice, "strslice.StrSlice"});
  f.push_back({"Config.OnBuild", GoNil::Slice, "[]string"});
  f.push_back({"Config.Labels", GoNil::Map, "map[string]string"});
}

}  // namespace

const std::vector<GoNilField>& container_inspect_nils() {
  static const std::vector<GoNilField> fields = [] {
    std::vector<GoNilField> f = {
        {"Args", GoNil::Slice, "[]string"},
        {"State.Health", GoNil::Pointer, "*types.Health", true},
        {"Mounts", GoNil::Slice, "[]types.MountPoint"},
        {"HostConfig.Binds", GoNil::Slice, "[]string"},
        {"HostConfig.PortBindings", GoNil::Map, "nat.PortMap"},
        {"HostConfig.LogConfig.Config", GoNil::Map, "map[string]string"},
        {"HostConfig.CapAdd", GoNil::Slice, "strslice.StrSlice"},
        {"HostConfig.CapDrop", GoNil::Slice, "strslice.StrSlice"},
        {"HostConfig.Dns", GoNil::Slice, "[]string"},
        {"HostConfig.DnsOptions", GoNil::Slice, "[]string"},
        {"HostConfig.DnsSearch", GoNil::Slice, "[]string"},
        {"HostConfig.ExtraHosts", GoNil::Slice, "[]string"},
        {"HostConfig.Links", GoNil::Slice, "[]string"},
        {"HostConfig.SecurityOpt", GoNil::Slice, "[]string"},
        {"HostConfig.Tmpfs", GoNil::Map, "map[string]string", true},
        {"HostConfig.Ulimits", GoNil::Slice, "[]*units.Ulimit"},
        {"NetworkSettings.Ports", GoNil::Map, "nat.PortMap"},
        {"NetworkSettings.Ports.*", GoNil::Slice, "[]nat.PortBinding"},
        {"NetworkSettings.Networks", GoNil::Map, "map[string]*network.EndpointSettings"},
        {"NetworkSettings.Networks.*.Aliases", GoNil::Slice, "[]string"},
    };
    add_config_fields(f);
    return f;
  }();
  return fields;
}

const std::vector<GoNilField>& image_inspect_nils() {
  static const std::vector<GoNilField> fields = [] {
    std::vector<GoNilField> f = {
        {"RepoTags", GoNil::Slice, "[]string"},
        {"RepoDigests", GoNil::Slice, "[]string"},
        {"RootFS.Layers", GoNil::Slice, "[]string"},
        {"GraphDriver.Data", GoNil::Map, "map[string]string"},
    };
    add_config_fields(f);
    return f;
  }();
  return fields;
}

namespace {

// The fields of container.Config that are maps (and Config's own pointer
// fields), under `prefix` ("Config.").
void add_config_shape(GoShape& s, const std::string& prefix) {
  for (const char* m : {"Labels", "ExposedPorts", "Volumes", "Annotations"}) s.maps.push_back(prefix + m);
  s.pointers.push_back(prefix + "Healthcheck");
}

}  // namespace

const GoShape& container_inspect_shape() {
  static const GoShape shape = [] {
    GoShape s;
    s.maps = {"HostConfig.PortBindings", "HostConfig.LogConfig.Config", "HostConfig.Tmpfs", "HostConfig.Sysctls",
              "HostConfig.StorageOpt", "GraphDriver.Data", "NetworkSettings.Ports", "NetworkSettings.Networks",
              "NetworkSettings.Networks.*.DriverOpts"};
    // types.ContainerJSON: State, HostConfig, Config and NetworkSettings
    // are pointers, as are the endpoints of Networks and the health log.
    s.pointers = {"State", "State.Health", "State.Health.Log.*", "HostConfig", "HostConfig.Ulimits.*", "Config",
                  "NetworkSettings", "NetworkSettings.Networks.*"};
    add_config_shape(s, "Config.");
    return s;
  }();
  return shape;
}

const GoShape& image_inspect_shape() {
  static const GoShape shape = [] {
    GoShape s;
    s.maps = {"GraphDriver.Data"};
    s.pointers = {"Config", "ContainerConfig"};
    add_config_shape(s, "Config.");
    add_config_shape(s, "ContainerConfig.");
    return s;
  }();
  return shape;
}

}  // namespace den
