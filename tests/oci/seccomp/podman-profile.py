#!/usr/bin/python3
"""The `linux.seccomp` podman 4.3 writes into config.json on amd64 with its default
capabilities, from containers-common's /usr/share/containers/seccomp.json (the same
filtering as containers/common's pkg/seccomp: an entry is kept when its `includes`
match the architecture and capabilities and its `excludes` do not).
`python3 tests/oci/seccomp/podman-profile.py > tests/oci/seccomp/podman-amd64.json`"""
import json, sys

CAPS = {"CAP_" + c for c in ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
        "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]}
ARCH = "amd64"
src = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/containers/seccomp.json"))
out = {"defaultAction": src["defaultAction"]}
if src.get("defaultErrnoRet") is not None:
    out["defaultErrnoRet"] = src["defaultErrnoRet"]
out["architectures"] = next([m["architecture"]] + m["subArchitectures"]
                            for m in src["archMap"] if m["architecture"] == "SCMP_ARCH_X86_64")
calls = []
for s in src["syscalls"]:
    inc, exc = s.get("includes") or {}, s.get("excludes") or {}
    if inc.get("arches") and ARCH not in inc["arches"]:
        continue
    if inc.get("caps") and not set(inc["caps"]) <= CAPS:
        continue
    if exc.get("arches") and ARCH in exc["arches"]:
        continue
    if exc.get("caps") and set(exc["caps"]) & CAPS:
        continue
    c = {"names": s["names"], "action": s["action"]}
    if s.get("args"):
        c["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op")} for a in s["args"]]
    if s.get("errnoRet") is not None:
        c["errnoRet"] = s["errnoRet"]
    calls.append(c)
out["syscalls"] = calls
json.dump(out, sys.stdout, indent=1)
print()
