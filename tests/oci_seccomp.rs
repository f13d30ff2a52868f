//! OCI seccomp profiles compiled by hutch (src/oci/seccomp.rs), run by the real binary
//! (`hutch --seccomp FD`), as root and as nobody: podman's default profile
//! (tests/oci/seccomp/podman-amd64.json) lets an allowed call through, gives a denied
//! one its errno, and honours argument conditions (socket's protocol, personality's
//! persona), for x86_64 calls, i386 calls (`int 0x80`) and x32 numbers. Each result is
//! the one libseccomp gives for the same profile loaded as runc loads it (python3-seccomp,
//! the reference), and the denied calls are shown to work without the profile.

mod support;

use std::time::Duration;
use support::{hutch_path, tempdir_mode, users, User};

const TIMEOUT: Duration = Duration::from_secs(30);
/// The system Python, which has python3-seccomp.
const PY: &str = "/usr/bin/python3";
const PODMAN: &str = include_str!("oci/seccomp/podman-amd64.json");
/// A real config.json podman 4.3 wrote as root here (more capabilities: socket is
/// allowed whatever its arguments).
const PODMAN_ROOT_BUNDLE: &str = include_str!("../src/oci/unsupported/podman-root.json");

/// Makes each call and prints `name result` lines: `ok` or the errno. i386 calls go
/// through `int 0x80` from a page of machine code.
const PROBE: &str = r#"
import ctypes, mmap, struct
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def native(nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_ulong(a) for a in args])
    return 'ok' if r >= 0 else str(ctypes.get_errno())
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
def i386(nr, a=0, b=0, c=0):
    code = (b'\x53\xb8' + struct.pack('<I', nr) + b'\xbb' + struct.pack('<I', a)
            + b'\xb9' + struct.pack('<I', b) + b'\xba' + struct.pack('<I', c) + b'\xcd\x80\x5b\xc3')
    page.seek(0)
    page.write(code)
    r = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))()
    return 'ok' if r >= 0 else str(-r)
X32 = 0x40000000
calls = [
    ('getpid', lambda: native(39)),
    ('kexec_load', lambda: native(246, 0, 0, 0, 0)),
    ('add_key', lambda: native(248, 0, 0, 0, 0, 0)),
    ('personality_query', lambda: native(135, 0xffffffff)),
    ('personality_linux32', lambda: native(135, 8)),
    ('personality_addr_no_randomize', lambda: native(135, 0x0040000)),
    ('socket_netlink_audit', lambda: native(41, 16, 3, 9)),
    ('socket_netlink_route', lambda: native(41, 16, 3, 0)),
    ('socket_inet_udp', lambda: native(41, 2, 2, 0)),
    ('x32_bpf', lambda: native(X32 | 321, 0, 0, 0)),
    ('x32_add_key', lambda: native(X32 | 248, 0, 0, 0, 0, 0)),
    ('i386_getpid', lambda: i386(20)),
    ('i386_bpf', lambda: i386(357)),
    ('i386_socket_netlink_audit', lambda: i386(359, 16, 3, 9)),
    ('i386_socket_netlink_route', lambda: i386(359, 16, 3, 0)),
    ('i386_personality_addr_no_randomize', lambda: i386(136, 0x0040000)),
    ('i386_add_key', lambda: i386(286)),
]
for name, f in calls:
    print(name, f(), flush=True)
"#;

/// Loads an OCI seccomp profile (argv[1]) with libseccomp as runc does, then runs the
/// probe.
const REFERENCE: &str = r#"
import json, seccomp, sys
prof = json.load(open(sys.argv[1]))
def act(a, e):
    return {'SCMP_ACT_ALLOW': seccomp.ALLOW, 'SCMP_ACT_LOG': seccomp.LOG,
            'SCMP_ACT_KILL': seccomp.KILL, 'SCMP_ACT_KILL_THREAD': seccomp.KILL,
            'SCMP_ACT_KILL_PROCESS': seccomp.KILL_PROCESS, 'SCMP_ACT_TRAP': seccomp.TRAP,
            'SCMP_ACT_ERRNO': seccomp.ERRNO(1 if e is None else e)}[a]
OPS = {'SCMP_CMP_EQ': seccomp.EQ, 'SCMP_CMP_NE': seccomp.NE, 'SCMP_CMP_LT': seccomp.LT,
       'SCMP_CMP_LE': seccomp.LE, 'SCMP_CMP_GT': seccomp.GT, 'SCMP_CMP_GE': seccomp.GE,
       'SCMP_CMP_MASKED_EQ': seccomp.MASKED_EQ}
ARCH = {'SCMP_ARCH_X86_64': seccomp.Arch.X86_64, 'SCMP_ARCH_X86': seccomp.Arch.X86,
        'SCMP_ARCH_X32': seccomp.Arch.X32}
f = seccomp.SyscallFilter(act(prof['defaultAction'], prof.get('defaultErrnoRet')))
for a in prof.get('architectures') or []:
    if not f.exist_arch(ARCH[a]):
        f.add_arch(ARCH[a])
for c in prof.get('syscalls') or []:
    if c['action'] == prof['defaultAction'] and c.get('errnoRet') == prof.get('defaultErrnoRet'):
        continue
    a = act(c['action'], c.get('errnoRet'))
    conds = [seccomp.Arg(x['index'], OPS[x['op']], x['value'], x.get('valueTwo') or 0)
             for x in c.get('args') or []]
    idx = [x['index'] for x in c.get('args') or []]
    for name in c['names']:
        try:
            seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
        except Exception:
            continue
        try:
            if len(set(idx)) != len(idx):
                for cond in conds:
                    f.add_rule(a, name, cond)
            else:
                f.add_rule(a, name, *conds)
        except RuntimeError:
            pass
f.load()
"#;

/// `name -> result` lines.
fn results(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn result<'a>(r: &'a [(String, String)], name: &str) -> &'a str {
    &r.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {r:?}"))
        .1
}

/// The probe in a hutch sandbox (the host's root read-only, no policy of hutch's own),
/// with the compiled program as `--seccomp 3` when given.
fn in_hutch(user: User, program: Option<&std::path::Path>) -> Vec<(String, String)> {
    let mut script = format!(
        "exec {} --ro-bind / / --dev /dev --proc /proc --seccomp-policy none",
        hutch_path().display()
    );
    if let Some(p) = program {
        script.push_str(&format!(" --seccomp 3 3<{}", p.display()));
    }
    script.push_str(&format!(" {PY} -c \"$1\""));
    let out = user
        .cmd("/bin/sh")
        .reset_env()
        .args(["-c", &script, "sh", PROBE])
        .timeout(TIMEOUT)
        .in_test_group()
        .run();
    out.ok();
    results(&out.stdout)
}

#[test]
fn podman_profile_under_hutch_matches_libseccomp() {
    if !std::path::Path::new(PY).exists()
        || !support::sh(&format!("{PY} -c 'import seccomp'"))
            .status
            .success()
    {
        return support::skip("python3-seccomp (the reference) is not installed");
    }
    #[cfg(not(target_arch = "x86_64"))]
    return support::skip("the probe is x86_64 machine code");
    let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_str(PODMAN).unwrap();
    let program = hutch::oci::seccomp::compile(&profile).unwrap();
    let dir = tempdir_mode("oci-seccomp", 0o755);
    let bpf = dir.path().join("podman.bpf");
    let json = dir.path().join("podman.json");
    std::fs::write(&bpf, &program).unwrap();
    std::fs::write(&json, PODMAN).unwrap();
    support::chmod(&bpf, 0o644);
    support::chmod(&json, 0o644);
    for user in users() {
        let got = in_hutch(user, Some(&bpf));
        let reference = user
            .cmd(PY)
            .reset_env()
            .args(["-c", &format!("{REFERENCE}\n{PROBE}")])
            .arg(&json)
            .timeout(TIMEOUT)
            .in_test_group()
            .run();
        reference.ok();
        let want = results(&reference.stdout);
        assert_eq!(got.len(), 17, "{user:?}: {got:?}");
        assert_eq!(got, want, "{user:?}: hutch, then libseccomp");
        // The profile's verdicts, spelled out.
        for (name, r) in [
            ("getpid", "ok"),
            ("kexec_load", "1"),
            ("add_key", "38"),
            ("personality_query", "ok"),
            ("personality_linux32", "ok"),
            ("personality_addr_no_randomize", "38"),
            ("socket_netlink_audit", "22"),
            ("socket_netlink_route", "ok"),
            ("socket_inet_udp", "ok"),
            ("x32_bpf", "1"),
            ("x32_add_key", "38"),
            ("i386_getpid", "ok"),
            ("i386_bpf", "1"),
            ("i386_socket_netlink_audit", "22"),
            ("i386_socket_netlink_route", "ok"),
            ("i386_personality_addr_no_randomize", "38"),
            ("i386_add_key", "38"),
        ] {
            assert_eq!(result(&got, name), r, "{user:?} {name}");
        }
        // Without the profile, the calls it refuses by their arguments work, and the
        // others fail otherwise.
        let open = in_hutch(user, None);
        for name in [
            "personality_addr_no_randomize",
            "socket_netlink_audit",
            "i386_socket_netlink_audit",
            "i386_personality_addr_no_randomize",
        ] {
            assert_eq!(
                result(&open, name),
                "ok",
                "{user:?} {name} without the profile"
            );
        }
        // (x32 calls get ENOSYS from a kernel without x32 anyway.)
        for name in ["add_key", "i386_add_key", "i386_bpf"] {
            assert_ne!(
                result(&open, name),
                "38",
                "{user:?} {name} without the profile"
            );
        }
    }
}

/// The profile of a real podman bundle: the same results as libseccomp.
#[test]
fn real_podman_bundle_profile_matches_libseccomp() {
    if !support::sh(&format!("{PY} -c 'import seccomp'"))
        .status
        .success()
    {
        return support::skip("python3-seccomp (the reference) is not installed");
    }
    #[cfg(not(target_arch = "x86_64"))]
    return support::skip("the probe is x86_64 machine code");
    let bundle: serde_json::Value = serde_json::from_str(PODMAN_ROOT_BUNDLE).unwrap();
    let json = bundle["linux"]["seccomp"].to_string();
    let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_str(&json).unwrap();
    let dir = tempdir_mode("oci-seccomp", 0o755);
    let (bpf, path) = (dir.path().join("p.bpf"), dir.path().join("p.json"));
    std::fs::write(&bpf, hutch::oci::seccomp::compile(&profile).unwrap()).unwrap();
    std::fs::write(&path, &json).unwrap();
    support::chmod(&bpf, 0o644);
    support::chmod(&path, 0o644);
    for user in users() {
        let got = in_hutch(user, Some(&bpf));
        let reference = user
            .cmd(PY)
            .reset_env()
            .args(["-c", &format!("{REFERENCE}\n{PROBE}")])
            .arg(&path)
            .timeout(TIMEOUT)
            .in_test_group()
            .run();
        reference.ok();
        assert_eq!(
            got,
            results(&reference.stdout),
            "{user:?}: hutch, then libseccomp"
        );
        // CAP_AUDIT_WRITE is in this bundle's set: no socket rule.
        assert_eq!(result(&got, "socket_netlink_audit"), "ok", "{user:?}");
        assert_eq!(
            result(&got, "personality_addr_no_randomize"),
            "38",
            "{user:?}"
        );
    }
}

/// SCMP_ACT_KILL_PROCESS ends the process with SIGSYS; an errno rule with an argument
/// condition (GT) returns its errnoRet only when the condition holds.
#[test]
fn killing_and_errno_defaults() {
    #[cfg(not(target_arch = "x86_64"))]
    return support::skip("the probe is x86_64 machine code");
    let dir = tempdir_mode("oci-seccomp", 0o755);
    let profile = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"},
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
         "args": [{"index": 0, "value": 5, "op": "SCMP_CMP_GT"}]}]}"#;
    let s: oci_spec::runtime::LinuxSeccomp = serde_json::from_str(profile).unwrap();
    let bpf = dir.path().join("p.bpf");
    std::fs::write(&bpf, hutch::oci::seccomp::compile(&s).unwrap()).unwrap();
    support::chmod(&bpf, 0o644);
    let script = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n\
         print(libc.syscall(39, 5) > 0, libc.syscall(39, 6), ctypes.get_errno(), flush=True)\n\
         libc.syscall(110)\nprint('alive')";
    for user in users() {
        let out = user.cmd("/bin/sh").reset_env().args([
                "-c",
                &format!(
                    "exec {} --ro-bind / / --dev /dev --seccomp-policy none --seccomp 3 3<{} {PY} -c \"$1\"",
                    hutch_path().display(),
                    bpf.display()
                ),
                "sh",
                script,
            ]).timeout(TIMEOUT).in_test_group().run();
        assert_eq!(out.stdout, "True -1 77\n", "{user:?}: {out:?}");
        // Killed by SIGSYS at getppid.
        assert_eq!(out.code, 128 + libc::SIGSYS, "{user:?}: {out:?}");
    }
}
