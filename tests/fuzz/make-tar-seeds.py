#!/usr/bin/env python3
"""Writes the layer_tar seed corpus (corpus/layer_tar/): small layers in the
shapes den meets (dirs, files, links, OCI whiteouts, pax xattrs, devices,
sparse-ish and compressed). Deterministic; the output is checked in."""
import gzip
import io
import os
import sys
import tarfile

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "layer_tar")
os.makedirs(out, exist_ok=True)


def entry(name, type=tarfile.REGTYPE, data=b"", mode=0o644, **kw):
    ti = tarfile.TarInfo(name)
    ti.type = type
    ti.mode = mode
    ti.mtime = 1700000000
    ti.uid = kw.pop("uid", 0)
    ti.gid = kw.pop("gid", 0)
    for k, v in kw.items():
        setattr(ti, k, v)
    ti.size = len(data) if type == tarfile.REGTYPE else 0
    return ti, data


def write(name, entries, fmt=tarfile.PAX_FORMAT, compress=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, data in entries:
            t.addfile(ti, io.BytesIO(data) if ti.type == tarfile.REGTYPE else None)
    raw = buf.getvalue()
    if compress == "gzip":
        raw = gzip.compress(raw, mtime=0)
    with open(os.path.join(out, name), "wb") as f:
        f.write(raw)


base = [
    entry("./", tarfile.DIRTYPE, mode=0o755),
    entry("etc/", tarfile.DIRTYPE, mode=0o755),
    entry("etc/passwd", data=b"root:x:0:0:root:/root:/bin/sh\n"),
    entry("bin/", tarfile.DIRTYPE, mode=0o755),
    entry("bin/busybox", data=b"\x7fELF" + b"\0" * 60, mode=0o4755, uid=0, gid=0),
    entry("bin/sh", tarfile.SYMTYPE, linkname="busybox", mode=0o777),
    entry("bin/ls", tarfile.LNKTYPE, linkname="bin/busybox"),
    entry("home/user/", tarfile.DIRTYPE, mode=0o700, uid=1000, gid=1000),
    entry("home/user/.profile", data=b"export A=1\n", uid=1000, gid=1000),
]
write("base.tar", base)
write("base.tar.gz", base, compress="gzip")
write("whiteouts.tar", [
    entry("etc/", tarfile.DIRTYPE, mode=0o755),
    entry("etc/.wh.passwd"),
    entry("var/", tarfile.DIRTYPE, mode=0o755),
    entry("var/cache/", tarfile.DIRTYPE, mode=0o755),
    entry("var/cache/.wh..wh..opq"),
    entry(".wh..wh.plnk/", tarfile.DIRTYPE, mode=0o700),
])
xattr = entry("usr/bin/ping", data=b"ping", mode=0o755)
xattr[0].pax_headers = {"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00",
                        "SCHILY.xattr.user.comment": "hello", "SCHILY.xattr.trusted.overlay.opaque": "y"}
write("xattrs-pax.tar", [entry("usr/", tarfile.DIRTYPE, mode=0o755), entry("usr/bin/", tarfile.DIRTYPE, mode=0o755), xattr])
write("devices-gnu.tar", [
    entry("dev/", tarfile.DIRTYPE, mode=0o755),
    entry("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
    entry("dev/sda", tarfile.BLKTYPE, mode=0o660, devmajor=8, devminor=0),
    entry("dev/fifo", tarfile.FIFOTYPE, mode=0o600),
    entry("dev/wh", tarfile.CHRTYPE, mode=0o000, devmajor=0, devminor=0),
    entry("a" * 120 + "/" + "b" * 120, data=b"long name"),
], fmt=tarfile.GNU_FORMAT)
write("escapes.tar", [
    entry("link", tarfile.SYMTYPE, linkname="/etc", mode=0o777),
    entry("link/shadow", data=b"nope"),
    entry("up", tarfile.SYMTYPE, linkname="../../..", mode=0o777),
    entry("up/x", data=b"nope"),
    entry("hl", tarfile.LNKTYPE, linkname="/etc/hostname"),
    entry("../evil", data=b"nope"),
], fmt=tarfile.USTAR_FORMAT)
print("wrote", len(os.listdir(out)), "seeds to", out, file=sys.stderr)
