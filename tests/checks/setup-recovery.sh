#!/usr/bin/env bash
# tests/setup recovers from any state of the build directory a failed or
# interrupted run left (TAP; run by tests/run as root). Each case leaves a
# scratch build directory (DEN_BUILD_DIR) in one state and runs
# `tests/setup configure` (the meson setup part of its build phase), which
# must leave a build directory ninja can build in.
set -uo pipefail
REPO=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
SCRATCH=$(mktemp -d /var/tmp/den-check-setup.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
export DEN_BUILD_DIR=$SCRATCH/build
OUT=$SCRATCH/out
LIBDIR=$(dirname "$(readlink -f "$(g++ -print-file-name=libacl.a)")")

N=0 FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $1"; }
not_ok() {
    N=$((N + 1)) FAILED=$((FAILED + 1))
    echo "not ok $N - $1"
    [[ ! -s $OUT ]] || tail -n 15 "$OUT" | sed 's/^/#   /'
}
setup_configure() { bash "$REPO/tests/setup" configure >"$OUT" 2>&1; }
# usable: what ninja needs to build, and meson agrees it is its build dir.
usable() {
    [[ -f $DEN_BUILD_DIR/build.ninja ]] &&
        meson introspect --projectinfo "$DEN_BUILD_DIR" >/dev/null 2>&1 &&
        ninja -C "$DEN_BUILD_DIR" -t targets all >"$SCRATCH/targets" 2>/dev/null &&
        grep -q '^den:' "$SCRATCH/targets"
}
# recovers NAME REASON-REGEX: tests/setup configure deletes the directory
# saying why, and sets it up anew.
recovers() {
    if setup_configure && grep -Eq "deleting the build directory .*: $2" "$OUT" && usable; then
        ok "tests/setup recovers from $1"
    else
        not_ok "tests/setup recovers from $1"
    fi
}

# 1. The failure of the issue: a static library missing (libacl.a hidden by
# an overlay whiteout in a mount namespace of its own) stops meson setup
# half way, with build.ninja never written.
mkdir -p "$SCRATCH/upper" "$SCRATCH/work"
mknod "$SCRATCH/upper/libacl.a" c 0 0
unshare -m sh -c "mount -t overlay overlay -o lowerdir=$LIBDIR,upperdir=$SCRATCH/upper,workdir=$SCRATCH/work $LIBDIR &&
    meson setup '$DEN_BUILD_DIR'" >"$OUT" 2>&1
rc=$?
if ((rc != 0)) && grep -q 'libacl1-dev missing: apt-get install libacl1-dev' "$OUT" &&
    [[ -d $DEN_BUILD_DIR && ! -e $DEN_BUILD_DIR/build.ninja ]]; then
    ok "meson setup without libacl.a fails naming the package (libacl1-dev missing: apt-get install libacl1-dev), leaving no build.ninja"
else
    not_ok "meson setup without libacl.a fails naming the package, leaving no build.ninja (exit status $rc)"
fi
# what stuck the user before: meson refuses to wipe such a directory
if meson setup --wipe "$DEN_BUILD_DIR" >"$OUT" 2>&1; then
    echo "# (this meson wipes a failed build directory by itself)"
fi
recovers "the build directory of a failed meson setup" "it has no build.ninja"

# 2. A usable build directory is kept as it is.
touch "$DEN_BUILD_DIR/den-check-marker"
if setup_configure && [[ -e $DEN_BUILD_DIR/den-check-marker ]] && grep -q 'is usable' "$OUT"; then
    ok "tests/setup keeps a usable build directory"
else
    not_ok "tests/setup keeps a usable build directory"
fi

# 3. A half-written build.ninja.
head -c 3000 "$DEN_BUILD_DIR/build.ninja" >"$SCRATCH/half" && mv "$SCRATCH/half" "$DEN_BUILD_DIR/build.ninja"
recovers "a half-written build.ninja" "ninja cannot read its build.ninja"

# 4. A build directory another meson version made.
sed -i 's/"full": "[^"]*"/"full": "0.61.5"/' "$DEN_BUILD_DIR/meson-info/meson-info.json"
recovers "a build directory of another meson version" "meson 0.61.5 made it"

# 5. meson setup killed half way (SIGKILL after 2 s: whatever state that is).
rm -rf "$DEN_BUILD_DIR"
{ timeout -s KILL 2 meson setup "$DEN_BUILD_DIR"; } >/dev/null 2>&1
if [[ -f $DEN_BUILD_DIR/build.ninja ]] && usable; then
    # meson was quicker than 2 s: the directory is complete and is kept.
    if setup_configure && usable; then ok "tests/setup after an interrupted meson setup (it had finished)"; else not_ok "tests/setup after an interrupted meson setup"; fi
elif setup_configure && usable; then
    ok "tests/setup recovers from a meson setup killed half way"
else
    not_ok "tests/setup recovers from a meson setup killed half way"
fi

# 6. What is not a meson build directory is not deleted: one line, exit 1.
mkdir -p "$SCRATCH/notbuild"
echo keep >"$SCRATCH/notbuild/precious"
DEN_BUILD_DIR=$SCRATCH/notbuild bash "$REPO/tests/setup" configure >"$OUT" 2>&1
rc=$?
if ((rc != 0)) && [[ -e $SCRATCH/notbuild/precious ]] && [[ $(grep -c 'ERROR' "$OUT") -eq 1 ]] &&
    grep -q 'is not a meson build directory' "$OUT"; then
    ok "tests/setup does not delete a DEN_BUILD_DIR that is not a build directory"
else
    not_ok "tests/setup does not delete a DEN_BUILD_DIR that is not a build directory (exit status $rc)"
fi

echo "1..$N"
((FAILED == 0))
