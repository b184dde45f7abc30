#!/usr/bin/env bash
# tests/setup on a machine it cannot prepare (TAP; run by tests/run as root):
# not root, not Debian, no network for apt. Each time: one clear line, exit
# status non-zero, nothing installed or changed. Runs a copy of tests/setup
# (with meson.build, where the build's packages are named) from a scratch
# directory.
set -uo pipefail
REPO=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
SCRATCH=$(mktemp -d /var/tmp/den-check-badinput.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
chmod 0755 "$SCRATCH"
COPY=$SCRATCH/repo
mkdir -p "$COPY/tests"
cp "$REPO/meson.build" "$COPY/"
cp "$REPO/tests/setup" "$REPO/tests/meson.build" "$COPY/tests/"
chmod -R a+rX "$COPY"
export DEN_BUILD_DIR=$SCRATCH/build
OUT=$SCRATCH/out

N=0 FAILED=0
ok() { N=$((N + 1)); echo "ok $N - $1"; }
skip() { N=$((N + 1)); echo "ok $N # skip $1"; }
not_ok() {
    N=$((N + 1)) FAILED=$((FAILED + 1))
    echo "not ok $N - $1"
    [[ ! -s $OUT ]] || tail -n 15 "$OUT" | sed 's/^/#   /'
}
# one_line RC REGEX: failed, and its only error line says REGEX.
one_error_line() {
    (($1 != 0)) && [[ $(grep -c 'ERROR' "$OUT") -eq 1 ]] && grep -q "ERROR: .*$2" "$OUT" &&
        [[ $(tail -n 1 "$OUT") == *ERROR* ]]
}

# Not root (the user nobody): refused before anything is looked at.
setpriv --reuid=65534 --regid=65534 --clear-groups bash "$COPY/tests/setup" >"$OUT" 2>&1
rc=$?
if one_error_line "$rc" 'must run as root' && [[ $(wc -l <"$OUT") -eq 1 ]]; then
    ok "tests/setup not as root: one line, exit status $rc"
else
    not_ok "tests/setup not as root: one line (exit status $rc)"
fi

# Not Debian: /etc/os-release of Fedora (in a mount namespace of its own).
printf 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=39\n' >"$SCRATCH/os-release"
unshare -m sh -c "mount --bind '$SCRATCH/os-release' /etc/os-release && exec bash '$COPY/tests/setup'" >"$OUT" 2>&1
rc=$?
if one_error_line "$rc" 'not a Debian system' && [[ $(wc -l <"$OUT") -eq 1 ]] && [[ ! -e $DEN_BUILD_DIR ]]; then
    ok "tests/setup on a system that is not Debian: one line, exit status $rc"
else
    not_ok "tests/setup on a system that is not Debian: one line (exit status $rc)"
fi

# No network (a network namespace of its own) and a package to install:
# the download fails, nothing is installed.
PKG=sl
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'install ok installed'; then
    skip "tests/setup without network: $PKG, the package it would install, is installed"
else
    sed -i "s/^    hyperfine$/    hyperfine $PKG/" "$COPY/tests/setup"
    if ! bash "$COPY/tests/setup" --list-packages | grep -qx "$PKG"; then
        not_ok "tests/setup without network: could not add $PKG to the copy's package list"
    else
        unshare -n bash "$COPY/tests/setup" packages >"$OUT" 2>&1
        rc=$?
        if one_error_line "$rc" "cannot download $PKG (no network" &&
            ! dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q 'install ok'; then
            ok "tests/setup without network: one error line, exit status $rc, $PKG not installed"
        else
            not_ok "tests/setup without network: one error line, nothing installed (exit status $rc)"
        fi
    fi
fi

echo "1..$N"
((FAILED == 0))
