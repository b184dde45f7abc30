#!/usr/bin/env python3
"""Checks that tests/setup installs every Debian package whose files the
build takes from the system (TAP; run by tests/run, as any user).

meson.build names what the build needs from Debian in its *_pkg
dictionaries: static libraries (static_lib_pkg), headers (header_pkg) and
pkg-config dependencies (pc_pkg), each with the package that has it. For each
one this finds the file on this machine (as the compiler and pkg-config find
it), asks dpkg -S which package owns it, and fails naming that package when
`tests/setup --list-packages` does not have it, or when meson.build names
another one (its "PKG missing: apt-get install PKG" would be wrong). A
library, header or dependency looked up outside those dictionaries fails too,
so nothing escapes the check.

    tests/checks/build-deps.py [REPO]     (default: this checkout)
"""
import os
import re
import subprocess
import sys

REPO = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KINDS = {"static_lib_pkg": "static library", "header_pkg": "header", "pc_pkg": "pkg-config dependency"}
# Looked up outside the dictionaries on purpose: glibc's and the compiler's own.
ALLOWED = {("find_library", "dl"), ("dependency", "threads")}

results = []  # (ok, description)


def check(ok, text):
    results.append((ok, text))


def run(*cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return p.returncode, p.stdout


def meson_files():
    for top, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith((".", "build")) and d != "subprojects"]
        if "meson.build" in files:
            yield os.path.join(top, "meson.build")


def parse():
    """(kind, name, package, where) of each entry of the *_pkg dictionaries."""
    entries = []
    for path in meson_files():
        rel = os.path.relpath(path, REPO)
        in_dict = None
        for no, line in enumerate(open(path, encoding="utf-8"), 1):
            line = line.rstrip("\n")
            m = re.match(r"^(\w+_pkg) = \{\s*$", line)
            if m:
                in_dict = m.group(1)
                if in_dict not in KINDS:
                    check(False, "%s:%d: unknown dictionary %s (this check knows %s)"
                          % (rel, no, in_dict, ", ".join(KINDS)))
                continue
            if in_dict:
                if re.match(r"^\}\s*$", line):
                    in_dict = None
                    continue
                if re.match(r"^\s*(#.*)?$", line):
                    continue
                m = re.match(r"^\s*'([^']+)'\s*:\s*'([a-z0-9][a-z0-9.+-]*)'\s*,?\s*(#.*)?$", line)
                if not m:
                    check(False, "%s:%d: cannot read this %s entry (one \"'name' : 'package',  # why\" a line): %s"
                          % (rel, no, in_dict, line.strip()))
                elif in_dict in KINDS:
                    entries.append((KINDS[in_dict], m.group(1), m.group(2), "%s:%d" % (rel, no)))
                continue
            code = line.split("#", 1)[0]
            for func, name in re.findall(r"\b(find_library|has_header|dependency)\(\s*'([^']+)'", code):
                if (func, name) in ALLOWED:
                    continue
                where = {"find_library": "static_lib_pkg", "has_header": "header_pkg",
                         "dependency": "pc_pkg"}[func]
                check(False, "%s:%d: %s('%s') outside meson.build's %s, so no package is known for it: "
                      "add it there" % (rel, no, func, name, where))
    return entries


def include_dirs():
    p = subprocess.run(["g++", "-std=c++20", "-x", "c++", "-E", "-v", "-"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dirs, inside = [], False
    for line in p.stderr.splitlines():
        if line.startswith("#include <...> search starts here"):
            inside = True
        elif line.startswith("End of search list"):
            inside = False
        elif inside:
            dirs.append(line.strip())
    return dirs


def locate(kind, name, incdirs):
    if kind == "static library":
        rc, out = run("g++", "-print-file-name=lib%s.a" % name)
        out = out.strip()
        return os.path.realpath(out) if rc == 0 and "/" in out and os.path.exists(out) else None
    if kind == "header":
        for d in incdirs:
            if os.path.isfile(os.path.join(d, name)):
                return os.path.join(os.path.realpath(d), name)
        return None
    rc, out = run("pkg-config", "--path", name)
    return os.path.realpath(out.strip()) if rc == 0 and out.strip() else None


def owners(path):
    candidates = [path]
    # merged /usr: dpkg knows some files by their /lib path
    if path.startswith("/usr/lib/") or path.startswith("/usr/include/"):
        candidates.append(path[4:])
    for c in candidates:
        rc, out = run("dpkg", "-S", c)
        if rc != 0:
            continue
        pkgs = []
        for line in out.splitlines():
            if line.startswith("diversion by") or ": " not in line:
                continue
            for p in line.split(": ", 1)[0].split(","):
                pkgs.append(p.strip().split(":")[0])
        if pkgs:
            return pkgs
    return []


def main():
    entries = parse()
    rc, out = run("bash", os.path.join(REPO, "tests", "setup"), "--list-packages")
    listed = set(out.split())
    if rc != 0 or not listed:
        check(False, "tests/setup --list-packages failed (exit status %d)" % rc)
    check(len(entries) > 0, "meson.build names the packages of what the build needs (%d *_pkg entries)"
          % len(entries))
    incdirs = include_dirs()
    for kind, name, pkg, where in entries:
        what = "%s '%s' (%s)" % (kind, name, where)
        path = locate(kind, name, incdirs)
        if path is None:
            check(False, "%s: not found on this machine; meson.build says it comes from %s, which tests/setup %s"
                  % (what, pkg, "installs: is it installed?" if pkg in listed else "does not install"))
            continue
        found = owners(path)
        if not found:
            check(False, "%s: dpkg -S knows no package owning %s" % (what, path))
            continue
        missing = [p for p in found if p not in listed]
        if len(missing) == len(found):
            check(False, "%s: %s belongs to %s, which tests/setup does not install (meson.build names %s)"
                  % (what, path, " or ".join(found), pkg))
        elif pkg not in found:
            check(False, "%s: %s belongs to %s, but meson.build names %s (its apt-get hint would be wrong)"
                  % (what, path, " or ".join(found), pkg))
        else:
            check(True, "%s: %s from %s, which tests/setup installs" % (what, path, pkg))
    print("1..%d" % len(results))
    for i, (ok, text) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, text))
    return 0 if all(ok for ok, _ in results) else 1


sys.exit(main())
