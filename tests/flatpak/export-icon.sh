#!/bin/sh
# `flatpak build-export` validates exported icons with flatpak-validate-icon,
# which it runs inside bwrap (FLATPAK_BWRAP), unless --disable-sandbox.
#
#   export-icon.sh WORKDIR BWRAP ICON
#
# Builds a one-file app whose 64x64 icon is ICON in WORKDIR/app and exports it
# to WORKDIR/repo. Prints what build-export prints; exits with its status (a
# failure before the export: 100). HOME must be writable: it is set to WORKDIR.
set -u
work=${1:?usage: export-icon.sh WORKDIR BWRAP ICON}
bwrap=${2:?}
icon=${3:?}
export HOME="$work" FLATPAK_BWRAP="$bwrap"
arch=$(flatpak --default-arch) || exit 100
app=$work/app
mkdir -p "$app/files/bin" "$app/files/share/icons/hicolor/64x64/apps" || exit 100
cat > "$app/metadata" <<EOT || exit 100
[Application]
name=org.test.Icon
runtime=org.test.Platform/$arch/master
sdk=org.test.Platform/$arch/master
EOT
printf '#!/bin/sh\necho icon\n' > "$app/files/bin/icon.sh" || exit 100
chmod 0755 "$app/files/bin/icon.sh"
cp "$icon" "$app/files/share/icons/hicolor/64x64/apps/org.test.Icon.png" || exit 100
flatpak build-finish --command=icon.sh "$app" >/dev/null || exit 100
exec flatpak build-export --no-update-summary --timestamp=2024-01-01T00:00:00Z \
    "$work/repo" "$app" master
