#include <algorithm>

#include "den/error.h"
#include "den/hash.h"
#include "den/image.h"
#include "den/reference.h"
#include "den/timefmt.h"

namespace den {

std::string_view oci_layer_media_type(Compression c) {
  switch (c) {
    case Compression::Gzip: return media::kOciLayerGzip;
    case Compression::Zstd: return media::kOciLayerZstd;
    default: return media::kOciLayer;
  }
}

Json make_oci_manifest(const std::string& config_digest, uint64_t config_size,
                       const std::vector<LayerDescriptor>& layers) {
  Json m;
  m["schemaVersion"] = 2;
  m["mediaType"] = media::kOciManifest;
  m["config"] = {{"mediaType", media::kOciConfig}, {"digest", config_digest}, {"size", config_size}};
  m["layers"] = Json::array();
  for (const auto& l : layers)
    m["layers"].push_back({{"mediaType", l.media_type}, {"digest", l.blob_digest}, {"size", l.blob_size}});
  return m;
}

namespace {

// obj[key] when obj is an object and it is a string, else def: registry and
// archive JSON is untrusted, and Json::value throws on a wrong type.
std::string string_field(const Json& obj, const char* key, const std::string& def = "") {
  if (!obj.is_object()) return def;
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : def;
}

}  // namespace

std::string pick_from_index(const Json& index, const std::string& os, const std::string& arch,
                            const std::string& variant, std::vector<std::string>* offered) {
  std::string chosen;
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) return chosen;
  for (const auto& d : index["manifests"]) {
    const Json p = d.is_object() && d.contains("platform") ? d["platform"] : Json::object();
    std::string pos = string_field(p, "os"), parch = string_field(p, "architecture"), pvar = string_field(p, "variant");
    if (offered) offered->push_back(pos + "/" + parch + (pvar.empty() ? "" : "/" + pvar));
    if (pos == os && parch == arch && (variant.empty() || pvar == variant) && chosen.empty())
      chosen = string_field(d, "digest");
  }
  return chosen;
}

std::string manifest_config_digest(const Json& man, const std::string& who, const std::string& media_type,
                                   const std::string& repo) {
  if (!man.is_object() || !man.contains("schemaVersion") || man["schemaVersion"] != 2 || !man.contains("config") ||
      !man.contains("layers") || !man["layers"].is_array())
    throw Error(fmt::format("{}: unsupported manifest type \"{}\" for {} (den reads docker v2 schema 2 and OCI)", who,
                            media_type, repo),
                Errc::Unsupported);
  std::string config_digest = string_field(man["config"], "digest");
  if (!is_sha256_digest(config_digest)) throw Error(fmt::format("{}: bad config digest in the manifest", who));
  return config_digest;
}

std::vector<LayerDescriptor> manifest_layers(const Json& man, const std::vector<std::string>& diff_ids,
                                             const std::string& who) {
  const Json& jl = man.is_object() && man.contains("layers") ? man["layers"] : Json::array();
  if (!jl.is_array() || diff_ids.size() != jl.size())
    throw Error(fmt::format("{}: the config lists {} layers, the manifest {}", who, diff_ids.size(),
                            jl.is_array() ? jl.size() : 0),
                Errc::Invalid);
  std::vector<LayerDescriptor> layers;
  for (size_t i = 0; i < jl.size(); i++) {
    LayerDescriptor d;
    d.blob_digest = string_field(jl[i], "digest");
    d.media_type = string_field(jl[i], "mediaType", std::string(media::kOciLayerGzip));
    const Json size = jl[i].is_object() && jl[i].contains("size") ? jl[i]["size"] : Json(0);
    d.blob_size = size.is_number_unsigned() ? size.get<uint64_t>() : 0;
    d.diff_id = diff_ids[i];
    if (!is_sha256_digest(d.blob_digest)) throw Error(fmt::format("{}: bad layer digest in the manifest", who));
    if (jl[i].contains("urls"))
      throw Error(fmt::format("{}: layer {} is a foreign layer, which den does not fetch", who,
                              digest_hex(d.blob_digest).substr(0, 12)),
                  Errc::Unsupported);
    layers.push_back(d);
  }
  return layers;
}

std::vector<std::string> config_diff_ids(const Json& config) {
  const Json* ids = nullptr;
  if (config.is_object() && config.contains("rootfs") && config["rootfs"].is_object() &&
      config["rootfs"].contains("diff_ids"))
    ids = &config["rootfs"]["diff_ids"];
  if (!ids || !ids->is_array()) throw Error("image config has no rootfs.diff_ids", Errc::Invalid);
  std::vector<std::string> out;
  for (const auto& d : *ids) {
    if (!d.is_string() || !is_sha256_digest(d.get<std::string>()))
      throw Error("image config has an invalid entry in rootfs.diff_ids", Errc::Invalid);
    out.push_back(d.get<std::string>());
  }
  return out;
}

int64_t config_created(const Json& config) {
  if (!config.is_object() || !config.contains("created") || !config["created"].is_string()) return 0;
  return parse_rfc3339(config["created"].get<std::string>()).value_or(0);
}

void validate_config(const Json& config) {
  if (!config.is_object()) throw Error("image config is not a JSON object", Errc::Invalid);
  if (config.contains("rootfs") && config["rootfs"].is_object()) {
    // (Not value("type", ""): a type of another JSON type threw the JSON
    // library's exception; found by fuzz_registry_json.)
    const Json& rootfs = config["rootfs"];
    auto type = rootfs.find("type");
    if (type == rootfs.end() || !type->is_string() || type->get<std::string>() != "layers")
      throw Error("image config: rootfs.type must be \"layers\"", Errc::Invalid);
  }
  config_diff_ids(config);
  if (config.contains("config") && !config["config"].is_object() && !config["config"].is_null())
    throw Error("image config: \"config\" must be an object", Errc::Invalid);
}

std::string familiar(const std::string& canonical_name) {
  if (auto r = try_parse_reference(canonical_name)) return r->familiar_string();
  return canonical_name;
}

Json load_image_config(const Store& store, const ImageRecord& rec) {
  std::string text = store.read_blob(rec.config_digest());
  Json j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Error(fmt::format("config of image {} is not valid JSON", rec.id.substr(0, 12)), Errc::Corrupt);
  return j;
}

namespace {
// Go's encoding/json prints map keys sorted; docker's maps (Labels,
// ExposedPorts, Volumes) come out sorted, whatever order the config had.
Json sorted(const Json& j) {
  if (!j.is_object()) return j;
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  Json out = Json::object();
  for (const auto& k : keys) out[k] = j[k];
  return out;
}

Json or_null(const Json& obj, const char* key) {
  if (obj.is_object() && obj.contains(key)) return sorted(obj[key]);
  return nullptr;
}
}  // namespace

Json image_inspect_json(const Store& store, const ImageRecord& rec) {
  Json cfg = load_image_config(store, rec);
  Json c = cfg.contains("config") && cfg["config"].is_object() ? cfg["config"] : Json::object();

  Json config;
  config["Hostname"] = "";
  config["Domainname"] = "";
  config["User"] = c.value("User", "");
  config["AttachStdin"] = false;
  config["AttachStdout"] = false;
  config["AttachStderr"] = false;
  if (c.contains("ExposedPorts")) config["ExposedPorts"] = sorted(c["ExposedPorts"]);
  config["Tty"] = false;
  config["OpenStdin"] = false;
  config["StdinOnce"] = false;
  config["Env"] = or_null(c, "Env");
  config["Cmd"] = or_null(c, "Cmd");
  config["Image"] = "";
  config["Volumes"] = or_null(c, "Volumes");
  config["WorkingDir"] = c.value("WorkingDir", "");
  config["Entrypoint"] = or_null(c, "Entrypoint");
  config["OnBuild"] = or_null(c, "OnBuild");
  config["Labels"] = or_null(c, "Labels");
  if (c.contains("StopSignal")) config["StopSignal"] = c["StopSignal"];
  if (c.contains("Healthcheck")) config["Healthcheck"] = c["Healthcheck"];

  Json repo_tags = Json::array();
  for (const auto& n : rec.names) repo_tags.push_back(familiar(n));
  Json repo_digests = Json::array();
  for (const auto& d : rec.digests) repo_digests.push_back(familiar(d));
  Json layers = Json::array();
  for (const auto& l : rec.layers) layers.push_back(l.diff_id);

  Json out;
  out["Id"] = rec.config_digest();
  out["Digest"] = rec.manifest_digest;
  out["RepoTags"] = repo_tags;
  out["RepoDigests"] = repo_digests;
  out["Parent"] = "";
  out["Comment"] = cfg.value("comment", "");
  out["Created"] = rec.created ? format_rfc3339_nano(rec.created) : "0001-01-01T00:00:00Z";
  out["DockerVersion"] = cfg.value("docker_version", "");
  out["Author"] = cfg.value("author", "");
  out["Config"] = config;
  out["Architecture"] = cfg.value("architecture", "");
  if (cfg.contains("variant")) out["Variant"] = cfg["variant"];
  out["Os"] = cfg.value("os", "");
  out["Size"] = rec.size;
  out["VirtualSize"] = rec.size;
  out["GraphDriver"] = {{"Name", store.config().storage_driver}, {"Data", Json::object()}};
  out["RootFS"] = {{"Type", "layers"}, {"Layers", layers}};
  out["Metadata"] = {{"LastTagTime", format_rfc3339_nano(rec.added)}};
  out["History"] = cfg.contains("history") ? cfg["history"] : Json::array();
  return out;
}

}  // namespace den
