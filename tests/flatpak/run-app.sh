#!/bin/sh
# Install org.test.Hello from a local repo into a fresh per-user installation
# and run it, with FLATPAK_BWRAP pointing at the given bwrap.
#
#   run-app.sh install|run WORKDIR REPO BWRAP [APP-ARGS...]
#
# install: remote-add and install only (flatpak runs its install triggers,
# update-desktop-database and friends, through FLATPAK_BWRAP too).
# run: the same, then `flatpak run org.test.Hello APP-ARGS...`.
#
# WORKDIR: an empty directory owned by the user running this; HOME and the XDG
# directories are made inside it, so nothing depends on the user's own state.
# Prints what `flatpak run` prints; exits with its status (install: 0). A failure before the
# run (remote-add, install) exits 100 with the reason on stderr.
set -u
mode=${1:?usage: run-app.sh install|run WORKDIR REPO BWRAP [ARGS...]}
work=${2:?}
repo=${3:?}
bwrap=${4:?}
shift 4
case $mode in install|run) ;; *) echo "run-app.sh: bad mode $mode" >&2; exit 100;; esac

export HOME="$work/home"
export XDG_DATA_HOME="$HOME/.local/share"
export XDG_CONFIG_HOME="$HOME/.config"
export XDG_CACHE_HOME="$HOME/.cache"
export XDG_RUNTIME_DIR="$work/run"
export FLATPAK_BWRAP="$bwrap"
# No display. A session bus only if the caller made one (dbus-run-session):
# then flatpak puts xdg-dbus-proxy in a sandbox of its own, through bwrap too.
unset DBUS_SYSTEM_BUS_ADDRESS DISPLAY WAYLAND_DISPLAY XDG_SESSION_TYPE
# Not root, flatpak asks malcontent on the system bus whether the user may
# install and run the app; there is no system bus here. Flatpak's own test
# suite skips that check the same way (libtest.sh).
export FLATPAK_SYSTEM_HELPER_ON_SESSION=1
# flatpak's own config and the system installation stay the host's; this only
# touches the per-user installation under $HOME.
mkdir -p "$HOME" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" || exit 100
mkdir -m 0700 -p "$XDG_RUNTIME_DIR" || exit 100
cd "$HOME" || exit 100

if ! flatpak --user remote-add --no-gpg-verify test-repo "file://$repo" \
        >"$work/remote-add.log" 2>&1; then
    echo "run-app.sh: flatpak remote-add failed:" >&2
    cat "$work/remote-add.log" >&2
    exit 100
fi
if ! flatpak --user install -y --noninteractive test-repo org.test.Hello \
        >"$work/install.log" 2>&1; then
    echo "run-app.sh: flatpak install failed:" >&2
    cat "$work/install.log" >&2
    exit 100
fi
[ "$mode" = install ] && exit 0
exec flatpak --user run org.test.Hello "$@"
