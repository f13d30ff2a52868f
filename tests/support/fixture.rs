//! The sandboxes of tests/it: a read-only fixture tree every test may bind from, the
//! usual roots ([`minimal`], [`rooted`]), mount tables, the flat JSON of `--info-fd`,
//! and seccomp programs assembled by hand.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::{base, bwrap, chmod, Cmd, User};

/// The read-only fixture tree (`fixture/` in [`base`]), made on first use.
pub fn fixture() -> &'static Path {
    static FIXTURE: OnceLock<PathBuf> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let f = base().join("fixture");
        make_fixture(&f);
        f
    })
}

fn write(p: &Path, data: impl AsRef<[u8]>, mode: u32) {
    fs::write(p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    chmod(p, mode);
}

fn mkdir(p: &Path, mode: u32) {
    fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    chmod(p, mode);
}

/// A small read-only tree that every test may bind from.
fn make_fixture(f: &Path) {
    mkdir(f, 0o755);
    write(&f.join("file"), "hello\n", 0o644);
    write(&f.join("data"), "some data\n", 0o644);
    write(&f.join("empty"), "", 0o644);
    mkdir(&f.join("dir/sub"), 0o755);
    chmod(&f.join("dir"), 0o755);
    write(&f.join("dir/a"), "a\n", 0o644);
    write(&f.join("dir/sub/b"), "b\n", 0o644);
    symlink("file", f.join("link")).unwrap();
    // Readable by root only: the unprivileged user gets EACCES under it.
    mkdir(&f.join("private"), 0o700);
    write(&f.join("private/x"), "secret\n", 0o600);
    // Overlay layers (for hutch's 0.11 overlay options).
    mkdir(&f.join("lower1"), 0o755);
    write(&f.join("lower1/one"), "lower1\n", 0o644);
    write(&f.join("lower1/both"), "from lower1\n", 0o644);
    mkdir(&f.join("lower2"), 0o755);
    write(&f.join("lower2/two"), "lower2\n", 0o644);
    write(&f.join("lower2/both"), "from lower2\n", 0o644);
    // Seccomp programs.
    write(&f.join("seccomp-uname.bpf"), bpf_deny_uname(), 0o644);
    write(&f.join("seccomp-allow.bpf"), bpf_allow_all(), 0o644);
    write(&f.join("seccomp-bad.bpf"), [0u8; 12], 0o644);
    // An --args file with many operations.
    write(&f.join("args-many"), nul_args(&many_ops_args(f)), 0o644);
    write(
        &f.join("args-cmd"),
        nul_args(&["--setenv", "A", "from-file", "echo", "command-in-file"]),
        0o644,
    );
    write(&f.join("args-nested"), nul_args(&["--args", "3"]), 0o644);
    write(
        &f.join("args-env"),
        nul_args(&["--setenv", "FROM_ARGS", "yes"]),
        0o644,
    );
    // A script that is not executable.
    write(&f.join("noexec.sh"), "#!/bin/sh\necho hi\n", 0o644);
    write(
        &f.join("exec.sh"),
        "#!/bin/sh\necho \"script $0 $*\"\n",
        0o755,
    );
}

/// 300 directories and 100 file binds, for `--args`.
pub fn many_ops_args(f: &Path) -> Vec<String> {
    let mut a = vec!["--tmpfs".to_string(), "/many".to_string()];
    for i in 0..300 {
        a.push("--dir".into());
        a.push(format!("/many/d{i}"));
    }
    for i in 0..100 {
        a.push("--ro-bind".into());
        a.push(f.join("file").display().to_string());
        a.push(format!("/many/f{i}"));
    }
    a
}

pub fn nul_args<S: AsRef<str>>(args: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in args {
        out.extend_from_slice(a.as_ref().as_bytes());
        out.push(0);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Sandbox shapes

#[rustfmt::skip]
/// A minimal root: the new root stays a writable tmpfs, with /usr and /etc bound
/// read-only and the merged-/usr symlinks, so that tests can create anything at the top.
pub const MINIMAL_ROOT: &[&str] = &[
    "--ro-bind", "/usr", "/usr",
    "--symlink", "usr/bin", "/bin",
    "--symlink", "usr/sbin", "/sbin",
    "--symlink", "usr/lib", "/lib",
    "--symlink", "usr/lib64", "/lib64",
    "--ro-bind", "/etc", "/etc",
];

/// hutch as `bwrap` with [`MINIMAL_ROOT`].
pub fn minimal(user: User) -> Cmd {
    bwrap(user).args(MINIMAL_ROOT)
}

/// hutch as `bwrap` with the host's root bound read-only.
pub fn rooted(user: User) -> Cmd {
    bwrap(user).args(["--ro-bind", "/", "/"])
}

/// An awk program printing one line per mount: `MOUNTPOINT OPTIONS FSTYPE SUPEROPTIONS`.
pub const MOUNTS: &str =
    r#"awk '{for(i=7;$i!="-";i++); print $5, $6, $(i+1), $(i+3)}' /proc/self/mountinfo"#;

/// One parsed line of [`MOUNTS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub point: String,
    pub opts: Vec<String>,
    pub fstype: String,
    pub super_opts: Vec<String>,
}

impl Mount {
    pub fn has(&self, opt: &str) -> bool {
        self.opts.iter().any(|o| o == opt)
    }
}

pub fn parse_mounts(s: &str) -> Vec<Mount> {
    s.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            if f.len() < 4 {
                return None;
            }
            Some(Mount {
                point: f[0].to_string(),
                opts: f[1].split(',').map(String::from).collect(),
                fstype: f[2].to_string(),
                super_opts: f[3].split(',').map(String::from).collect(),
            })
        })
        .collect()
}

/// The last mount at `point` (the one on top).
#[track_caller]
pub fn mount_at<'a>(mounts: &'a [Mount], point: &str) -> &'a Mount {
    mounts
        .iter()
        .rev()
        .find(|m| m.point == point)
        .unwrap_or_else(|| panic!("no mount at {point} in {mounts:#?}"))
}

// ---------------------------------------------------------------------------------------
// JSON (the flat objects of --info-fd and --json-status-fd)

/// Parse one flat JSON object whose values are integers, keeping the key order.
pub fn parse_flat_json(s: &str) -> Result<Vec<(String, i64)>, String> {
    let s = s.trim();
    let inner = s
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(|| format!("not an object: {s:?}"))?;
    let mut out = Vec::new();
    if inner.trim().is_empty() {
        return Ok(out);
    }
    for member in inner.split(',') {
        let (k, v) = member
            .split_once(':')
            .ok_or_else(|| format!("bad member {member:?}"))?;
        let k = k.trim();
        let key = k
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .ok_or_else(|| format!("bad key {k:?}"))?;
        let v: i64 = v
            .trim()
            .parse()
            .map_err(|e| format!("bad value {v:?}: {e}"))?;
        out.push((key.to_string(), v));
    }
    Ok(out)
}

pub fn json_keys(obj: &[(String, i64)]) -> Vec<&str> {
    obj.iter().map(|(k, _)| k.as_str()).collect()
}

pub fn json_get(obj: &[(String, i64)], key: &str) -> Option<i64> {
    obj.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

// ---------------------------------------------------------------------------------------
// Seccomp: classic BPF assembled by hand (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k)

/// BPF_LD | BPF_W | BPF_ABS
const BPF_LD_W_ABS: u16 = 0x20;
/// BPF_JMP | BPF_JEQ | BPF_K
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const EPERM: u32 = 1;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "x86_64")]
const NR_UNAME: u32 = 63;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;
#[cfg(target_arch = "aarch64")]
const NR_UNAME: u32 = 160;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..2].copy_from_slice(&code.to_ne_bytes());
    b[2] = jt;
    b[3] = jf;
    b[4..8].copy_from_slice(&k.to_ne_bytes());
    b
}

/// uname(2) fails with EPERM; everything else is allowed (other architectures too).
pub fn bpf_deny_uname() -> Vec<u8> {
    [
        insn(BPF_LD_W_ABS, 0, 0, 4), // A = seccomp_data.arch
        insn(BPF_JMP_JEQ_K, 0, 3, AUDIT_ARCH),
        insn(BPF_LD_W_ABS, 0, 0, 0), // A = seccomp_data.nr
        insn(BPF_JMP_JEQ_K, 0, 1, NR_UNAME),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    .concat()
}

pub fn bpf_allow_all() -> Vec<u8> {
    insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW).to_vec()
}

// ---------------------------------------------------------------------------------------
