// -v, --mount, --tmpfs and --volumes-from: see den/mount_spec.h.
#include "den/mount_spec.h"

#include <sys/stat.h>

#include <algorithm>

#include "den/error.h"
#include "den/fs.h"
#include "den/strings.h"

namespace den {

namespace {

const char* const kPropagations[] = {"shared", "rshared", "slave", "rslave", "private", "rprivate"};

bool is_propagation(const std::string& o) {
  return std::find(std::begin(kPropagations), std::end(kPropagations), o) != std::end(kPropagations);
}

// A clean absolute container path ("/a/b", no "..", not "/").
std::string check_destination(const std::string& dst, const std::string& what) {
  if (dst.empty() || dst[0] != '/')
    throw Error(fmt::format("invalid {}: the container path \"{}\" must be absolute", what, dst), Errc::Invalid);
  std::vector<std::string> parts;
  for (const auto& p : split(dst, '/')) {
    if (p.empty() || p == ".") continue;
    if (p == "..")
      throw Error(fmt::format("invalid {}: the container path \"{}\" must not contain \"..\"", what, dst),
                  Errc::Invalid);
    parts.push_back(p);
  }
  if (parts.empty()) throw Error(fmt::format("invalid {}: cannot mount over \"/\"", what), Errc::Invalid);
  return "/" + join(parts, "/");
}

std::string clean_host_path(const std::string& src, const std::string& what) {
  if (src.empty() || src[0] != '/')
    throw Error(fmt::format("invalid {}: the host path \"{}\" must be absolute", what, src), Errc::Invalid);
  std::vector<std::string> parts;
  for (const auto& p : split(src, '/'))
    if (!p.empty() && p != ".") parts.push_back(p);
  return "/" + join(parts, "/");
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

}  // namespace

MountSpec parse_volume_flag(const std::string& arg) {
  const std::string what = fmt::format("volume specification \"{}\"", arg);
  std::vector<std::string> parts = split(arg, ':');
  if (arg.empty() || parts.size() > 3 || std::any_of(parts.begin(), parts.end(), [](auto& p) { return p.empty(); }))
    throw Error(fmt::format("invalid {}: use [SRC:]DST[:OPTIONS], SRC an absolute host path or a volume name", what),
                Errc::Invalid);
  MountSpec m;
  std::string opts;
  if (parts.size() == 1) {
    m.type = "volume";
    m.anonymous = true;
    m.destination = check_destination(parts[0], what);
  } else {
    // "DST:OPTS" is not a form: the first part is always SRC with two parts or more.
    const std::string& src = parts[0];
    m.destination = check_destination(parts[1], what);
    if (parts.size() == 3) opts = parts[2];
    if (src[0] == '/') {
      m.type = "bind";
      m.source = clean_host_path(src, what);
    } else if (src[0] == '.' || src.find('/') != std::string::npos) {
      throw Error(fmt::format("invalid {}: \"{}\" is a relative host path: use an absolute path for a bind mount, "
                              "or a name of [a-zA-Z0-9][a-zA-Z0-9_.-] for a volume",
                              what, src),
                  Errc::Invalid);
    } else {
      check_volume_name(src);
      m.type = "volume";
      m.source = src;
    }
  }
  int rw_count = 0, prop_count = 0;
  for (const auto& o : split(opts, ',')) {
    if (o.empty()) continue;
    if (o == "ro" || o == "rw") rw_count++;
    else if (is_propagation(o)) prop_count++;
    else if (o == "z" || o == "Z" || o == "U" || o == "O" || o == "nocopy" || o == "copy") {
      if (o == "O" && m.type != "bind")
        throw Error(fmt::format("invalid {}: the overlay option O needs a host directory as the source", what),
                    Errc::Invalid);
      if ((o == "nocopy" || o == "copy") && m.type != "volume")
        throw Error(fmt::format("invalid {}: {} is for volumes, not bind mounts", what, o), Errc::Invalid);
    } else {
      throw Error(fmt::format("invalid {}: unknown option \"{}\" (use ro, rw, z, Z, U, O, nocopy, or a propagation: "
                              "shared, rshared, slave, rslave, private, rprivate)",
                              what, o),
                  Errc::Invalid);
    }
    if (rw_count > 1 || prop_count > 1)
      throw Error(fmt::format("invalid {}: conflicting options \"{}\"", what, opts), Errc::Invalid);
    if (o != "copy") m.options.push_back(o);
  }
  if (has(m.options, "O") && (has(m.options, "ro") || prop_count))
    throw Error(fmt::format("invalid {}: O cannot be combined with ro or a propagation", what), Errc::Invalid);
  return m;
}

MountSpec parse_mount_flag(const std::string& arg) {
  const std::string what = fmt::format("--mount \"{}\"", arg);
  MountSpec m;
  m.type = "volume";
  std::string src, dst, propagation;
  bool ro = false, nocopy = false;
  std::vector<std::string> tmpfs_opts;
  for (const auto& field : split(arg, ',')) {
    if (field.empty()) continue;
    bool found = false;
    // (not a structured binding: the lambda uses v, which clang 14 refuses)
    const auto kv = split_once(field, '=', &found);
    const std::string& k = kv.first;
    const std::string& v = kv.second;
    auto truth = [&](const std::string& key) {
      if (!found || v == "true" || v == "1") return true;
      if (v == "false" || v == "0") return false;
      throw Error(fmt::format("invalid {}: {} takes true or false, not \"{}\"", what, key, v), Errc::Invalid);
    };
    if (k == "type") m.type = v;
    else if (k == "source" || k == "src") src = v;
    else if (k == "destination" || k == "dst" || k == "target") dst = v;
    else if (k == "readonly" || k == "ro") ro = truth(k);
    else if (k == "bind-propagation") propagation = v;
    else if (k == "volume-nocopy") nocopy = truth(k);
    else if (k == "tmpfs-size") tmpfs_opts.push_back("size=" + v);
    else if (k == "tmpfs-mode") tmpfs_opts.push_back("mode=" + v);
    else if (k == "consistency" || k == "z" || k == "Z") {}  // no meaning on Linux / without SELinux
    else if (k == "volume-driver" && v != "local")
      throw Error(fmt::format("unknown volume driver \"{}\": den has the local driver only", v), Errc::Unsupported);
    else if (k == "volume-driver") {}
    else
      throw Error(fmt::format("invalid {}: unknown key \"{}\"", what, k), Errc::Invalid);
  }
  if (m.type != "bind" && m.type != "volume" && m.type != "tmpfs")
    throw Error(fmt::format("invalid {}: type must be bind, volume or tmpfs, not \"{}\"", what, m.type), Errc::Invalid);
  if (dst.empty()) throw Error(fmt::format("invalid {}: the target (dst=) is required", what), Errc::Invalid);
  m.destination = check_destination(dst, what);
  if (!propagation.empty() && (m.type != "bind" || !is_propagation(propagation)))
    throw Error(fmt::format("invalid {}: bind-propagation \"{}\" (bind mounts only: shared, rshared, slave, "
                            "rslave, private, rprivate)",
                            what, propagation),
                Errc::Invalid);
  if (nocopy && m.type != "volume")
    throw Error(fmt::format("invalid {}: volume-nocopy is for volumes", what), Errc::Invalid);
  if (!tmpfs_opts.empty() && m.type != "tmpfs")
    throw Error(fmt::format("invalid {}: tmpfs-size and tmpfs-mode are for tmpfs mounts", what), Errc::Invalid);
  if (m.type == "bind") {
    if (src.empty()) throw Error(fmt::format("invalid {}: a bind mount needs a source (src=)", what), Errc::Invalid);
    m.source = clean_host_path(src, what);
  } else if (m.type == "volume") {
    if (src.empty()) {
      m.anonymous = true;
    } else {
      check_volume_name(src);
      m.source = src;
    }
  } else {
    if (!src.empty()) throw Error(fmt::format("invalid {}: a tmpfs mount takes no source", what), Errc::Invalid);
    m.source = "tmpfs";
  }
  if (ro) m.options.push_back("ro");
  if (!propagation.empty()) m.options.push_back(propagation);
  if (nocopy) m.options.push_back("nocopy");
  for (const auto& o : tmpfs_opts) m.options.push_back(o);
  return m;
}

MountSpec parse_tmpfs_flag(const std::string& arg) {
  auto [dst, opts] = split_once(arg, ':');
  MountSpec m;
  m.type = "tmpfs";
  m.source = "tmpfs";
  m.destination = check_destination(dst, fmt::format("--tmpfs \"{}\"", arg));
  if (!opts.empty()) m.options = split(opts, ',');
  return m;
}

std::pair<std::string, std::string> parse_volumes_from(const std::string& arg) {
  auto [name, mode] = split_once(arg, ':');
  if (name.empty() || (!mode.empty() && mode != "ro" && mode != "rw"))
    throw Error(fmt::format("invalid --volumes-from \"{}\": use CONTAINER[:ro|:rw]", arg), Errc::Invalid);
  return {name, mode};
}

void check_duplicate_destinations(const std::vector<MountSpec>& mounts) {
  for (size_t i = 0; i < mounts.size(); i++)
    for (size_t j = i + 1; j < mounts.size(); j++)
      if (mounts[i].destination == mounts[j].destination)
        throw Error(fmt::format("duplicate mount point: {} is the destination of two mounts", mounts[i].destination),
                    Errc::Invalid);
}

bool mount_readonly(const MountSpec& m) { return has(m.options, "ro"); }

std::string mount_propagation(const MountSpec& m) {
  for (const auto& o : m.options)
    if (is_propagation(o)) return o;
  return "";
}

std::string mount_mode(const MountSpec& m) {
  std::vector<std::string> mode;
  for (const auto& o : m.options)
    if (o.find('=') == std::string::npos && !is_propagation(o)) mode.push_back(o);
  if (mode.empty() && m.type == "volume") return "z";
  return join(mode, ",");
}

std::vector<MountSpec> prepare_mounts(VolumeStore& vs, ContainerStore& cs, const MountFlags& f,
                                      std::vector<std::string>* created) {
  std::vector<MountSpec> out;
  std::vector<bool> from_v;  // -v binds create a missing source; --mount refuses
  for (const auto& t : f.tmpfs) out.push_back(parse_tmpfs_flag(t)), from_v.push_back(false);
  for (const auto& v : f.volume) out.push_back(parse_volume_flag(v)), from_v.push_back(true);
  for (const auto& v : f.mount) out.push_back(parse_mount_flag(v)), from_v.push_back(false);
  check_duplicate_destinations(out);
  auto covered = [&](const std::string& dst) {
    return std::any_of(out.begin(), out.end(), [&](const MountSpec& m) { return m.destination == dst; });
  };
  for (const auto& arg : f.volumes_from) {
    auto [name, mode] = parse_volumes_from(arg);
    ContainerConfig other = cs.config(cs.resolve(name));
    // Every mount of the other container, including what it took from
    // others (they are in its config already): a chain a->b->c works.
    for (MountSpec m : other.mounts) {
      if (m.type == "tmpfs" || covered(m.destination)) continue;
      m.anonymous = false;  // the volume stays the other container's
      if (!mode.empty()) {
        m.options.erase(std::remove_if(m.options.begin(), m.options.end(),
                                       [](const std::string& o) { return o == "ro" || o == "rw"; }),
                        m.options.end());
        m.options.push_back(mode);
      }
      out.push_back(m);
      from_v.push_back(false);
    }
  }
  for (const auto& dst : f.image_volumes) {
    std::string d = check_destination(dst, fmt::format("image volume \"{}\"", dst));
    if (covered(d)) continue;
    MountSpec m;
    m.type = "volume";
    m.destination = d;
    m.anonymous = true;
    out.push_back(m);
    from_v.push_back(false);
  }
  // Host side: bind sources, volumes.
  try {
    for (size_t i = 0; i < out.size(); i++) {
      MountSpec& m = out[i];
      if (m.type == "bind") {
        struct stat st;
        if (::stat(m.source.c_str(), &st) != 0) {
          if (!from_v[i])
            throw Error(fmt::format("invalid mount: bind source path does not exist: {} (create it first, or use -v, "
                                    "which creates it)",
                                    m.source),
                        Errc::NotFound);
          mkdirs(m.source, 0755);
        }
      } else if (m.type == "volume") {
        if (m.source.empty()) {
          Volume v = vs.create(Volume{});
          m.source = v.name;
          created->push_back(v.name);
        } else if (!vs.find(m.source)) {
          Volume v;
          v.name = m.source;
          vs.create(v, true);
          created->push_back(v.name);
        }
      }
    }
  } catch (...) {
    for (const auto& n : *created) {
      try {
        vs.remove(n, true);
      } catch (...) {
      }
    }
    created->clear();
    throw;
  }
  return out;
}

Json mounts_inspect_json(const Store& store, const ContainerConfig& c) {
  Json out = Json::array();
  for (const auto& m : c.mounts) {
    if (m.type == "tmpfs") continue;  // docker lists --tmpfs under HostConfig.Tmpfs only
    Json j = Json::object();
    j["Type"] = m.type;
    if (m.type == "volume") {
      j["Name"] = m.source;
      j["Source"] = store.root() + "/volumes/" + m.source + "/_data";
      j["Driver"] = "local";
    } else {
      j["Source"] = m.source;
    }
    j["Destination"] = m.destination;
    j["Mode"] = mount_mode(m);
    j["RW"] = !mount_readonly(m);
    std::string prop = mount_propagation(m);
    j["Propagation"] = m.type == "bind" && prop.empty() ? "rprivate" : prop;
    out.push_back(j);
  }
  return out;
}

Json binds_inspect_json(const ContainerConfig& c) {
  Json out = Json::array();
  for (const auto& m : c.mounts) {
    if (m.type == "tmpfs" || (m.type == "volume" && m.anonymous)) continue;
    std::string b = m.source + ":" + m.destination;
    std::string mode = mount_mode(m);
    if (m.type == "volume" && mode == "z") mode.clear();
    std::string prop = mount_propagation(m);
    if (!prop.empty()) mode += (mode.empty() ? "" : ",") + prop;
    if (!mode.empty()) b += ":" + mode;
    out.push_back(b);
  }
  return out.empty() ? Json(nullptr) : out;
}

Json volumes_inspect_json(const ContainerConfig& c) {
  Json out = Json::object();
  for (const auto& m : c.mounts)
    if (m.type == "volume" && m.anonymous) out[m.destination] = Json::object();
  return out.empty() ? Json(nullptr) : out;
}

std::vector<std::string> anonymous_volumes(const ContainerConfig& c) {
  std::vector<std::string> out;
  for (const auto& m : c.mounts)
    if (m.type == "volume" && m.anonymous) out.push_back(m.source);
  return out;
}

}  // namespace den
