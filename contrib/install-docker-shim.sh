#!/bin/sh
# Makes `docker` run den for the current user: a symlink ~/.local/bin/docker
# pointing at den. A wrapper script (`exec den "$@"`) would not do, since den
# looks at the name it was started under: called as "docker" it says "docker"
# in its usage and error messages, as scripts written for docker expect.
#
# Usage: contrib/install-docker-shim.sh [--force] [BINDIR]   (default ~/.local/bin)
#        contrib/install-docker-shim.sh --uninstall [BINDIR]
set -eu

force=0
uninstall=0
while [ $# -gt 0 ]; do
    case $1 in
        --force) force=1 ;;
        --uninstall) uninstall=1 ;;
        -h | --help)
            sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        -*)
            echo "install-docker-shim: unknown option $1" >&2
            exit 2
            ;;
        *) break ;;
    esac
    shift
done
bindir=${1:-${HOME:?HOME is not set}/.local/bin}
link=$bindir/docker

# Whether the link is den's: it resolves to the den in PATH, or to a file
# named den (when den is no longer in PATH).
is_den_link() {
    [ -L "$1" ] || return 1
    target=$(readlink -f "$1")
    den_now=$(command -v den || true)
    [ -n "$den_now" ] && [ "$target" = "$(readlink -f "$den_now")" ] && return 0
    [ "$(basename "$target")" = den ]
}

if [ "$uninstall" = 1 ]; then
    if is_den_link "$link"; then
        rm -f "$link"
        echo "removed $link"
    else
        echo "install-docker-shim: $link is not den's shim; left alone" >&2
        exit 1
    fi
    exit 0
fi

den=$(command -v den || true)
if [ -z "$den" ]; then
    echo "install-docker-shim: den is not in PATH; install den first" >&2
    exit 1
fi
# The link points at den's real path, so that it keeps working when the PATH
# entry it was found under is itself a symlink farm.
den=$(readlink -f "$den")

# Never replace a real docker (or anything else) without being asked.
if [ -e "$link" ] || [ -L "$link" ]; then
    if [ -L "$link" ] && [ "$(readlink -f "$link")" = "$den" ]; then
        echo "$link already points at $den"
    elif [ "$force" = 1 ]; then
        rm -f "$link"
    else
        echo "install-docker-shim: $link exists and is not den; use --force to replace it" >&2
        exit 1
    fi
fi
mkdir -p "$bindir"
[ -L "$link" ] || ln -s "$den" "$link"
echo "installed $link -> $den"

# The shim only wins when its directory comes before any other docker in PATH.
found=$(command -v docker || true)
if [ "$(readlink -f "${found:-/nonexistent}")" != "$den" ]; then
    echo
    if [ -n "$found" ]; then
        echo "note: 'docker' currently runs $found, which comes first in PATH."
    else
        echo "note: $bindir is not in PATH."
    fi
    echo "Put $bindir first in PATH, e.g. in ~/.profile or ~/.bashrc:"
    echo "    export PATH=\"$bindir:\$PATH\""
    echo "then start a new shell (or run 'hash -r')."
fi
