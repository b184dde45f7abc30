// import, load, save.
#include <fcntl.h>
#include <unistd.h>

#include "cli.h"
#include "den/error.h"
#include "den/fs.h"
#include "den/image.h"
#include "den/image_archive.h"
#include "den/reference.h"

namespace den::cli {

namespace {

UniqueFd open_input(const std::string& path) {
  if (path.empty() || path == "-") {
    if (::isatty(STDIN_FILENO))
      throw Error("no input: give a file, or pipe an archive into standard input", Errc::Invalid);
    return UniqueFd(::dup(STDIN_FILENO));
  }
  try {
    return open_file(path, O_RDONLY);
  } catch (Error& e) {
    throw e.context("cannot read input");
  }
}

int cmd_import(Context& ctx, const Args& a) {
  ImportOptions opts;
  opts.changes = a.list("change");
  opts.message = a.value("message");
  if (a.positional.size() > 1) opts.name = parse_named_tagged(a.positional[1]).string();
  if (a.has("platform") && a.value("platform") != "linux/" + host_arch())
    throw Error(fmt::format("--platform {} is not supported: den imports for linux/{} only", a.value("platform"),
                            host_arch()),
                Errc::Unsupported);
  UniqueFd in = open_input(a.positional[0]);
  ctx.enter_userns();
  ImageRecord rec = import_rootfs(ctx.store(), in.get(), opts);
  out(rec.config_digest() + "\n");
  return 0;
}

int cmd_load(Context& ctx, const Args& a) {
  UniqueFd in = open_input(a.value("input"));
  ctx.enter_userns();
  std::vector<LoadedImage> loaded = load_archive(ctx.store(), in.get());
  std::string text;
  for (const auto& l : loaded) {
    if (l.names.empty()) text += "Loaded image ID: sha256:" + l.id + "\n";
    for (const auto& n : l.names) text += "Loaded image: " + familiar(n) + "\n";
  }
  // -q only hides progress (docker and podman still name what was loaded).
  out(text);
  return 0;
}

int cmd_save(Context& ctx, const Args& a) {
  SaveFormat format = parse_save_format(a.value("format", "docker-archive"));
  std::string output = a.value("output");
  Store& store = ctx.store();
  std::vector<SaveItem> items;
  for (const auto& arg : a.positional) {
    SaveItem it{store.lookup_image(arg), ""};
    // A name argument records that name; an ID records all the image's names
    // for docker-archive (as docker does) or none.
    auto ref = try_parse_reference(arg);
    std::string id_arg = arg.rfind("sha256:", 0) == 0 ? arg.substr(7) : arg;
    bool by_id = looks_like_id(id_arg) && it.image.id.rfind(id_arg, 0) == 0;
    if (!by_id && ref) {
      std::string want = ref->with_default_tag().string();
      for (const auto& n : it.image.names)
        if (n == want) it.name = n;
      if (it.name.empty() && !it.image.names.empty()) it.name = it.image.names.front();
    }
    if (by_id && format == SaveFormat::DockerArchive && !it.image.names.empty()) {
      for (const auto& n : it.image.names) items.push_back({it.image, n});
      continue;
    }
    items.push_back(std::move(it));
  }
  if (format == SaveFormat::OciDir) {
    if (output.empty()) throw Error("--format oci-dir needs -o DIRECTORY", Errc::Invalid);
    save_images(store, items, format, -1, output);
    return 0;
  }
  ArchiveOutput file(output);
  save_images(store, items, format, file.fd(), "");
  file.commit();
  return 0;
}

}  // namespace

void register_transfer_commands(std::vector<Command>& t) {
  t.push_back({{{"import"}, {"image", "import"}},
               "[OPTIONS] file|- [REPOSITORY[:TAG]]",
               "Import the contents from a tarball to create a filesystem image",
               "den import rootfs.tar.gz localhost/bb:1\ncat rootfs.tar | den import -c 'CMD [\"/bin/sh\"]' - bb",
               {{"change", 'c', OptKind::List, "list", "Apply Dockerfile instruction to the created image", ""},
                {"message", 'm', OptKind::Value, "string", "Set commit message for imported image", ""},
                {"platform", 0, OptKind::Value, "string", "Set platform if server is multi-platform capable", ""}},
               false, 1, 2, cmd_import});
  t.back().notes = kNotesTarEntries;
  t.push_back({{{"load"}, {"image", "load"}},
               "[OPTIONS]",
               "Load an image from a tar archive or STDIN",
               "den load -i bb.tar\ngunzip -c bb.tar.gz | den load",
               {{"input", 'i', OptKind::Value, "string", "Read from tar archive file, instead of STDIN", ""},
                {"quiet", 'q', OptKind::Bool, "", "Suppress the load output", ""}},
               false, 0, 0, cmd_load});
  t.back().notes = std::string(kNotesMetadataSize) + "\n" + kNotesTarEntries;
  t.push_back({{{"save"}, {"image", "save"}},
               "[OPTIONS] IMAGE [IMAGE...]",
               "Save one or more images to a tar archive (streamed to STDOUT by default)",
               "den save -o bb.tar bb\nden save bb | gzip > bb.tar.gz\nden save --format oci-archive -o bb.oci.tar bb",
               {{"output", 'o', OptKind::Value, "string", "Write to a file, instead of STDOUT", ""},
                {"format", 0, OptKind::Value, "string", "docker-archive, oci-archive or oci-dir", "\"docker-archive\""}},
               false, 1, -1, cmd_save});
}

}  // namespace den::cli
