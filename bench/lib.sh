# bench/lib.sh — shared helpers for bench/run and bench/syscalls (sourced, not run).
#
# Provides:
#   ROOT           repository root (parent of bench/)
#   REF_BWRAP      the reference bubblewrap (default /usr/bin/bwrap, override with $BWRAP)
#   AS=(...)       command prefix that runs a command as the unprivileged user
#                  (setpriv to uid/gid $BENCH_UID, default 65534, when root; empty otherwise)
#   BIN            after stage_hutch: a fresh 755 temp dir holding `hutch` and a `bwrap -> hutch` symlink
#   new_tmpdir     mktemp -d, chmod 755, registered for removal on exit
#   need CMD PKG   apt-get install PKG if CMD is missing (only CMD is checked; nothing is upgraded)

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
REF_BWRAP=${BWRAP:-/usr/bin/bwrap}
BENCH_UID=${BENCH_UID:-65534}

say() { printf '%s\n' "$*" >&2; }
die() { say "${0##*/}: error: $*"; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
    AS=(setpriv "--reuid=$BENCH_UID" "--regid=$BENCH_UID" --clear-groups)
    RUN_AS="uid $BENCH_UID via setpriv"
else
    AS=()
    RUN_AS="uid $(id -u) (current user)"
fi

_TMPDIRS=()
_cleanup() {
    local d
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        [ ${#_TMPDIRS[@]} -eq 0 ] || say "kept temp dirs: ${_TMPDIRS[*]}"
        return 0
    fi
    for d in "${_TMPDIRS[@]}"; do
        [ -n "$d" ] && [ -d "$d" ] && rm -rf -- "$d"
    done
    return 0
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

new_tmpdir() { # prints the new dir; the caller must use `d=$(new_tmpdir)` then `_TMPDIRS+=("$d")`
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/hutch-bench.XXXXXX")
    chmod 755 "$d"
    printf '%s\n' "$d"
}

_APT_UPDATED=0
need() { # need COMMAND-OR-PATH PACKAGE
    local cmd=$1 pkg=$2
    if [ "${cmd#/}" != "$cmd" ]; then [ -x "$cmd" ] && return 0; else command -v "$cmd" >/dev/null 2>&1 && return 0; fi
    [ "$(id -u)" -eq 0 ] || die "$cmd is missing; install the Debian package '$pkg' (needs root)"
    command -v apt-get >/dev/null 2>&1 || die "$cmd is missing and apt-get is not available; install '$pkg'"
    say "installing $pkg ..."
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >&2; then
        [ "$_APT_UPDATED" = 1 ] && die "apt-get install $pkg failed"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        _APT_UPDATED=1
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >&2 || die "apt-get install $pkg failed"
    fi
}

stage_hutch() { # cargo build --release, then copy the binary into a fresh dir the unprivileged user can run
    need cargo cargo
    say "building hutch (cargo build --release) ..."
    local built
    # The binary's path depends on .cargo/config.toml (target/<host triple>/release/hutch):
    # ask cargo for it.
    built=$(cd -- "$ROOT" && cargo build --release --quiet --message-format=json-render-diagnostics |
        sed -n 's/.*"executable":"\([^"]*\/hutch\)".*/\1/p' | tail -n 1) ||
        die "cargo build --release failed"
    [ -n "$built" ] && [ -x "$built" ] || die "hutch's binary not found after cargo build --release"
    BIN=$(new_tmpdir); _TMPDIRS+=("$BIN")
    cp -- "$built" "$BIN/hutch"
    chmod 755 "$BIN/hutch"
    ln -s hutch "$BIN/bwrap"
    "${AS[@]}" test -x "$BIN/hutch" ||
        die "$BIN/hutch is not executable by $RUN_AS (is ${TMPDIR:-/tmp} reachable by that user?)"
    HUTCH_REV=$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)
}

ref_bwrap_version() { "$REF_BWRAP" --version 2>/dev/null | awk '{print $NF; exit}' || echo unknown; }
