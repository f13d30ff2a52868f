#!/bin/sh
# Build a tiny Flatpak runtime (org.test.Platform) and app (org.test.Hello) from
# host files and export both into a local, unsigned OSTree repository, the way
# Flatpak's own test suite does (tests/make-test-runtime.sh, make-test-app.sh).
#
#   build-repo.sh OUTDIR
#
# Leaves OUTDIR/repo (an archive-z2 OSTree repo with a summary). Needs flatpak
# and a statically linked busybox (Debian: busybox-static). No network, no
# bwrap: `build-export --disable-sandbox` keeps the icon validator out of it.
# Commit timestamps are fixed, so the same inputs give the same commits.
set -eu

out=${1:?usage: build-repo.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
arch=$(flatpak --default-arch)
branch=master
stamp=2024-01-01T00:00:00Z

busybox=""
for b in /bin/busybox /usr/bin/busybox; do
    [ -x "$b" ] && { busybox=$b; break; }
done
[ -n "$busybox" ] || { echo "build-repo.sh: no busybox found" >&2; exit 1; }
# A dynamically linked busybox would need its libraries in the runtime too.
if ldd "$busybox" >/dev/null 2>&1; then
    echo "build-repo.sh: $busybox is not static (install busybox-static)" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/hutch-flatpak-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
repo=$out/repo
rm -rf "$repo"

# --- runtime: /usr is files/, busybox and a few applets --------------------
rt=$work/runtime
mkdir -p "$rt/files/bin" "$rt/files/etc"
cat > "$rt/metadata" <<EOF
[Runtime]
name=org.test.Platform
runtime=org.test.Platform/$arch/$branch
sdk=org.test.Platform/$arch/$branch
EOF
cp "$busybox" "$rt/files/bin/busybox"
for applet in sh cat echo ls id grep sed head tr wc test env readlink stat \
              mount sleep true false printf ps; do
    ln -s busybox "$rt/files/bin/$applet"
done
# Flatpak binds some of these from the host when they exist in the runtime.
: > "$rt/files/etc/passwd"
: > "$rt/files/etc/group"
flatpak build-export --runtime --files=files --disable-sandbox --no-update-summary \
    --timestamp="$stamp" --subject="test runtime" \
    "$repo" "$rt" "$branch" >/dev/null

# --- app: /app/bin/hello.sh --------------------------------------------------
app=$work/app
mkdir -p "$app/files/bin"
cat > "$app/metadata" <<EOF
[Application]
name=org.test.Hello
runtime=org.test.Platform/$arch/$branch
sdk=org.test.Platform/$arch/$branch
EOF
cp "$here/hello.sh" "$app/files/bin/hello.sh"
chmod 0755 "$app/files/bin/hello.sh"
# Exported on install; flatpak's desktop-database trigger (run through bwrap
# too) then writes mimeinfo.cache for it.
mkdir -p "$app/files/share/applications"
cat > "$app/files/share/applications/org.test.Hello.desktop" <<EOF
[Desktop Entry]
Type=Application
Name=Hello
Exec=hello.sh
MimeType=x-test/hutch;
EOF
flatpak build-finish --command=hello.sh --env=HUTCH_GREETING=hi "$app" >/dev/null
flatpak build-export --disable-sandbox --no-update-summary \
    --timestamp="$stamp" --subject="test app" \
    "$repo" "$app" "$branch" >/dev/null

flatpak build-update-repo "$repo" >/dev/null

# The unprivileged test user pulls from here.
chmod -R a+rX "$out"
echo "$repo"
