#!/bin/sh
# The test app: report what the sandbox looks like, then exit 7.
echo "hello from org.test.Hello"
echo "greeting=$HUTCH_GREETING"
echo "flatpak-id=$FLATPAK_ID"
# /.flatpak-info is written by flatpak and handed to bwrap as an fd (--file).
grep '^name=' /.flatpak-info | sed 's/^/info-/'
grep '^runtime=' /.flatpak-info | sed 's/^/info-/'
echo "uid=$(id -u) gid=$(id -g)"
# --unshare-pid: bwrap's init is pid 1, the command pid 2.
echo "pid=$$"
echo "app=$(readlink -f /app/bin/hello.sh)"
echo "usr=$(ls /usr/bin/busybox)"
# No --share=network: a fresh network namespace with loopback only.
echo "net=$(sed -n 's/^ *\([a-z0-9]*\):.*/\1/p' /proc/net/dev | tr '\n' ' ')"
# --ro-bind-fd: the runtime is read-only.
if touch /usr/x 2>/dev/null; then echo "usr-writable=yes"; else echo "usr-writable=no"; fi
# Per-app data dir, bound read-write from the host.
if echo ok > "$XDG_DATA_HOME/probe" 2>/dev/null; then echo "data-writable=yes"; else echo "data-writable=no"; fi
if [ -S /run/flatpak/bus ]; then echo "session-bus=proxied"; else echo "session-bus=none"; fi
echo "args=$*"
exit 7
