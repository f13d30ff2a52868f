//! Landlock: rules from the Spec (explicit, or derived from the mount plan) to a
//! ruleset, applied in the child once the new root is final; and what the kernel
//! actually enforced, for the report.
//!
//! Derivation (no explicit `--landlock-read/-write/-exec`): each mount gives its
//! destination the access its mount allows.
//!
//! | op                                            | access beneath the destination      |
//! |-----------------------------------------------|-------------------------------------|
//! | `--ro-bind`, `--ro-bind-fd`, `--ro-overlay`   | read, execute                       |
//! | `--bind`, `--dev-bind`, `--bind-fd`, `--tmpfs`, `--overlay`, `--tmp-overlay`, `--mqueue`, `--bind-data`, `--proc` | everything |
//! | `--ro-bind-data`, `--file`                    | read (and execute with an executable `--perms`) |
//! | `--dev`                                       | read, write, truncate, ioctl on devices (covers `pts`); `shm`: everything |
//! | `--remount-ro`                                | the destination's own rule loses its write rights |
//! | `--dir`, `--symlink`, `--chmod`               | nothing                             |
//! | the root, when nothing is mounted on `/`      | list directories only               |
//!
//! A mount hides whatever was mounted below its destination, so it replaces
//! those rules. Landlock rules only add up: a rule can never take away what a
//! rule on a parent grants. So `--bind / / --remount-ro /usr` keeps full access
//! beneath `/`; writes under `/usr` are still refused, by the read-only mount.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use landlock::{
    Access as _, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope, ABI,
};

use crate::error::{Error, Result};
use crate::spec::{BindKind, LandlockFs, LandlockSpec, Op, OverlayKind, PathAccess};

/// Landlock filesystem rights.
pub type Access = BitFlags<AccessFs>;

/// The newest ABI whose rights hutch asks for (and is tested against). Rights of
/// later ABIs are not requested, so a newer kernel changes nothing.
pub const TARGET_ABI: ABI = ABI::V7;

/// Every filesystem right of [`TARGET_ABI`].
pub fn full() -> Access {
    AccessFs::from_all(TARGET_ABI)
}

/// Read files, list directories.
pub fn read() -> Access {
    AccessFs::ReadFile | AccessFs::ReadDir
}

/// Read and execute.
pub fn read_exec() -> Access {
    read() | AccessFs::Execute
}

/// Read and write, with neither execute nor creation or removal: `--dev`'s nodes.
fn dev() -> Access {
    read() | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev
}

/// A data file (`--file`, `--ro-bind-data`): read, and execute if `--perms` made it executable.
fn data(perms: Option<u32>) -> Access {
    match perms {
        Some(p) if p & 0o111 != 0 => read_exec(),
        _ => read(),
    }
}

/// What a `--remount-ro` leaves of a rule.
fn read_only(a: Access) -> Access {
    a & (read_exec() | AccessFs::IoctlDev)
}

/// Sandbox paths compared lexically: absolute, `.` and `..` folded (`..` at the
/// root stays at the root, as with `RESOLVE_IN_ROOT`).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// The rules the mount plan implies, in order of first appearance.
pub fn derive(ops: &[Op]) -> Vec<(PathBuf, Access)> {
    // Keyed by path: `PathBuf` orders by components, so a path's descendants
    // follow it contiguously and hiding them costs O(k log n), not O(n).
    let mut rules: BTreeMap<PathBuf, Access> = BTreeMap::new();
    // A new mount on `dest` hides the mounts below it: their rules go.
    fn mount(rules: &mut BTreeMap<PathBuf, Access>, dest: PathBuf, access: Access) {
        let hidden: Vec<PathBuf> = rules
            .range(dest.clone()..)
            .take_while(|(p, _)| p.starts_with(&dest))
            .map(|(p, _)| p.clone())
            .collect();
        for p in hidden {
            rules.remove(&p);
        }
        rules.insert(dest, access);
    }
    for op in ops {
        let dest = normalize(op.dest());
        match op {
            Op::Bind { kind, .. } => {
                let a = match kind {
                    BindKind::ReadOnly => read_exec(),
                    BindKind::ReadWrite | BindKind::Dev => full(),
                };
                mount(&mut rules, dest, a);
            }
            Op::BindFd { read_only, .. } => mount(
                &mut rules,
                dest,
                if *read_only { read_exec() } else { full() },
            ),
            Op::Overlay { kind, .. } => {
                let a = match kind {
                    OverlayKind::ReadOnly => read_exec(),
                    OverlayKind::ReadWrite { .. } | OverlayKind::Tmp => full(),
                };
                mount(&mut rules, dest, a);
            }
            Op::Tmpfs { .. } | Op::Mqueue { .. } | Op::Proc { .. } => {
                mount(&mut rules, dest, full())
            }
            Op::BindData {
                read_only, perms, ..
            } => {
                let a = if *read_only { data(*perms) } else { full() };
                mount(&mut rules, dest, a)
            }
            Op::File { perms, .. } => mount(&mut rules, dest, data(*perms)),
            Op::Dev { .. } => {
                let shm = dest.join("shm");
                mount(&mut rules, dest, dev());
                rules.insert(shm, full());
            }
            Op::RemountRo { .. } => {
                if let Some(a) = rules.get_mut(&dest) {
                    *a = read_only(*a);
                }
            }
            Op::Dir { .. } | Op::Symlink { .. } | Op::Chmod { .. } => {}
        }
    }
    rules
        .entry(PathBuf::from("/"))
        .or_insert_with(|| AccessFs::ReadDir.into());
    rules.into_iter().collect()
}

/// The rules in Landlock-only mode, where the mount plan's binds are of host paths
/// onto themselves (src/stage/landlock_only.rs): the same as [`derive`]'s, but the root is
/// the host's, so nothing lists it unless a bind on `/` says so.
pub fn derive_host(ops: &[Op]) -> Vec<(PathBuf, Access)> {
    let root_mounted = ops
        .iter()
        .any(|op| !matches!(op, Op::RemountRo { .. }) && normalize(op.dest()) == Path::new("/"));
    let mut rules = derive(ops);
    if !root_mounted {
        rules.retain(|(p, _)| p != Path::new("/"));
    }
    rules
}

/// What one explicit rule grants.
pub fn explicit_access(a: PathAccess) -> Access {
    match a {
        PathAccess::Read => read(),
        PathAccess::Write => read() | AccessFs::from_write(TARGET_ABI),
        PathAccess::Exec => read_exec(),
    }
}

/// Whether the rules let the command write somewhere it may not execute: explicit
/// rules with a `--landlock-write` path beneath no `--landlock-exec` path (the derived
/// rules let every writable place execute). Landlock does not see memfds, so such a
/// plan also needs memfd execution refused (src/stage/seccomp_policy.rs, src/run/sandbox.rs).
pub fn exec_denied_where_writable(fs: &LandlockFs) -> bool {
    let LandlockFs::Explicit(rules) = fs else {
        return false;
    };
    let exec: Vec<PathBuf> = rules
        .iter()
        .filter(|(_, a)| *a == PathAccess::Exec)
        .map(|(p, _)| normalize(p))
        .collect();
    rules
        .iter()
        .any(|(p, a)| *a == PathAccess::Write && !exec.iter().any(|e| normalize(p).starts_with(e)))
}

pub fn flag_name(a: PathAccess) -> &'static str {
    match a {
        PathAccess::Read => "--landlock-read",
        PathAccess::Write => "--landlock-write",
        PathAccess::Exec => "--landlock-exec",
    }
}

/// Short names of filesystem rights, for the report.
fn fs_names(a: Access) -> Vec<&'static str> {
    let names = [
        (AccessFs::Execute, "execute"),
        (AccessFs::WriteFile, "write_file"),
        (AccessFs::ReadFile, "read_file"),
        (AccessFs::ReadDir, "read_dir"),
        (AccessFs::RemoveDir, "remove_dir"),
        (AccessFs::RemoveFile, "remove_file"),
        (AccessFs::MakeChar, "make_char"),
        (AccessFs::MakeDir, "make_dir"),
        (AccessFs::MakeReg, "make_reg"),
        (AccessFs::MakeSock, "make_sock"),
        (AccessFs::MakeFifo, "make_fifo"),
        (AccessFs::MakeBlock, "make_block"),
        (AccessFs::MakeSym, "make_sym"),
        (AccessFs::Refer, "refer"),
        (AccessFs::Truncate, "truncate"),
        (AccessFs::IoctlDev, "ioctl_dev"),
    ];
    names
        .iter()
        .filter(|(r, _)| a.contains(*r))
        .map(|(_, n)| *n)
        .collect()
}

/// What the kernel was asked for and what it enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The kernel's Landlock ABI (0: none).
    pub abi: i32,
    /// `off` (not asked for), `full`, `partial` or `none`.
    pub state: &'static str,
    /// Path and port rules added to the ruleset.
    pub rules: usize,
    /// Restrictions asked for that this kernel cannot enforce.
    pub dropped: Vec<String>,
    /// Derived rules left out because their path does not exist.
    pub skipped: Vec<String>,
    /// `off`, `derived` or `explicit`.
    pub fs: &'static str,
    pub scope: bool,
}

/// What a kernel with Landlock ABI `abi` cannot enforce of `spec`.
pub fn unsupported(spec: &LandlockSpec, abi: i32) -> Vec<String> {
    let kernel = ABI::from(abi);
    let mut out = Vec::new();
    if abi <= 0 {
        out.push("landlock (not available in this kernel)".to_string());
        return out;
    }
    if spec.fs != LandlockFs::Off {
        for n in fs_names(full() & !AccessFs::from_all(kernel)) {
            out.push(format!("fs:{n}"));
        }
    }
    if abi < 4 {
        if !spec.connect.is_empty() {
            out.push("net:connect_tcp".to_string());
        }
        if !spec.bind.is_empty() {
            out.push("net:bind_tcp".to_string());
        }
    }
    if spec.scope && abi < 6 {
        out.push("scope:abstract_unix_socket".to_string());
        out.push("scope:signal".to_string());
    }
    out
}

fn ll_err(e: impl std::fmt::Display) -> Error {
    Error::msg(format!("Landlock: {e}"))
}

/// One path rule: the path, its access, and the flag that asked for it when explicit
/// (a missing path is then an error; a derived rule's is skipped).
pub type PathRule = (PathBuf, Access, Option<&'static str>);

/// The path rules `spec` asks for (see `plan::Landlock`): derived from the mounts
/// (`host`: in Landlock-only mode, with no new root, see [`derive_host`]), or given.
pub fn path_rules(spec: &LandlockSpec, ops: &[Op], host: bool) -> Vec<PathRule> {
    match &spec.fs {
        _ if !spec.enabled() => Vec::new(),
        LandlockFs::Off => Vec::new(),
        LandlockFs::Derived => {
            let rules = if host { derive_host(ops) } else { derive(ops) };
            rules.into_iter().map(|(p, a)| (p, a, None)).collect()
        }
        LandlockFs::Explicit(list) => list
            .iter()
            .map(|(p, a)| (p.clone(), explicit_access(*a), Some(flag_name(*a))))
            .collect(),
    }
}

/// Restrict this process (and what it execs) as `spec` says, with the path rules
/// the plan made (`rules`, see [`path_rules`]) and what kernel ABI `abi` lacks of
/// it (`dropped`, see [`unsupported`]). Runs in the child after the new root is
/// final: rule paths are the sandbox's own.
pub fn apply(
    spec: &LandlockSpec,
    abi: i32,
    dropped: &[String],
    rules: &[PathRule],
) -> Result<Status> {
    let mut status = Status {
        abi,
        state: "off",
        rules: 0,
        dropped: Vec::new(),
        skipped: Vec::new(),
        fs: match spec.fs {
            LandlockFs::Off => "off",
            LandlockFs::Derived => "derived",
            LandlockFs::Explicit(_) => "explicit",
        },
        scope: spec.scope,
    };
    if !spec.enabled() {
        return Ok(status);
    }
    status.dropped = dropped.to_vec();
    if spec.strict && !status.dropped.is_empty() {
        return Err(Error::msg(format!(
            "Landlock cannot enforce everything asked (--landlock-strict): kernel ABI {abi} lacks {}",
            status.dropped.join(", ")
        )));
    }
    let handles_fs = spec.fs != LandlockFs::Off;
    // Nothing this kernel can enforce: leave the process as it is.
    let nothing = abi <= 0
        || (!handles_fs
            && (abi < 4 || (spec.connect.is_empty() && spec.bind.is_empty()))
            && (abi < 6 || !spec.scope));
    if nothing {
        status.state = "none";
        return Ok(status);
    }

    let level = if spec.strict {
        CompatLevel::HardRequirement
    } else {
        CompatLevel::BestEffort
    };
    let mut ruleset = Ruleset::default().set_compatibility(level);
    if handles_fs {
        ruleset = ruleset.handle_access(full()).map_err(ll_err)?;
    }
    if !spec.connect.is_empty() {
        ruleset = ruleset
            .handle_access(AccessNet::ConnectTcp)
            .map_err(ll_err)?;
    }
    if !spec.bind.is_empty() {
        ruleset = ruleset.handle_access(AccessNet::BindTcp).map_err(ll_err)?;
    }
    if spec.scope {
        ruleset = ruleset
            .scope(Scope::AbstractUnixSocket | Scope::Signal)
            .map_err(ll_err)?;
    }
    let mut created = ruleset.create().map_err(ll_err)?;

    for (path, access, flag) in rules {
        let (path, mut access) = (path.as_path(), *access);
        let fd = match PathFd::new(path) {
            Ok(fd) => fd,
            Err(e) => {
                let err = std::fs::metadata(path)
                    .err()
                    .map(|e| crate::error::strerror(&e))
                    .unwrap_or_else(|| e.to_string());
                match flag {
                    Some(flag) => {
                        return Err(Error::msg(format!("{flag} {}: {err}", path.display())))
                    }
                    None => {
                        status.skipped.push(format!("{}: {err}", path.display()));
                        continue;
                    }
                }
            }
        };
        // Directory-only rights make no sense on a file (the kernel refuses them).
        let is_dir = std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(true);
        if !is_dir {
            access &= AccessFs::from_file(TARGET_ABI);
        }
        if access.is_empty() {
            continue;
        }
        created = created
            .add_rule(PathBeneath::new(fd, access))
            .map_err(ll_err)?;
        status.rules += 1;
    }
    for (ports, access) in [
        (&spec.connect, AccessNet::ConnectTcp),
        (&spec.bind, AccessNet::BindTcp),
    ] {
        for port in ports {
            created = created
                .add_rule(NetPort::new(*port, access))
                .map_err(ll_err)?;
            status.rules += 1;
        }
    }
    let restricted = created.restrict_self().map_err(ll_err)?;
    status.state = match restricted.ruleset {
        RulesetStatus::FullyEnforced => "full",
        RulesetStatus::PartiallyEnforced => "partial",
        RulesetStatus::NotEnforced => "none",
    };
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Personality;

    fn paths(rules: &[(PathBuf, Access)]) -> Vec<&str> {
        rules.iter().map(|(p, _)| p.to_str().unwrap()).collect()
    }

    #[test]
    fn ro_bind_reads_and_executes_tmpfs_is_full_root_lists() {
        let r = derive(&[
            Op::bind("/usr", "/usr", BindKind::ReadOnly),
            Op::Tmpfs {
                dest: "/tmp".into(),
                perms: None,
                size: None,
            },
        ]);
        // Rules come out sorted by path.
        assert_eq!(paths(&r), ["/", "/tmp", "/usr"]);
        assert_eq!(r[0].1, AccessFs::ReadDir);
        assert_eq!(r[2].1, read_exec());
        assert_eq!(r[1].1, full());
        assert!(!r[2].1.contains(AccessFs::WriteFile));
    }

    #[test]
    fn bind_on_root_replaces_the_root_rule() {
        let r = derive(&[Op::bind("/", "/", BindKind::ReadWrite)]);
        assert_eq!(r, [(PathBuf::from("/"), full())]);
        let r = derive(&[Op::bind("/", "/", BindKind::ReadOnly)]);
        assert_eq!(r, [(PathBuf::from("/"), read_exec())]);
    }

    #[test]
    fn later_mount_hides_earlier_rules_below_it() {
        let r = derive(&[
            Op::bind("/a", "/x/y", BindKind::ReadWrite),
            Op::bind("/b", "/x", BindKind::ReadOnly),
            Op::bind("/c", "/x/", BindKind::ReadOnly),
        ]);
        assert_eq!(paths(&r), ["/", "/x"]);
        assert_eq!(r[1].1, read_exec());
    }

    #[test]
    fn remount_ro_downgrades_only_its_own_rule() {
        let r = derive(&[
            Op::bind("/", "/", BindKind::ReadWrite),
            Op::bind("/srv", "/srv", BindKind::ReadWrite),
            Op::RemountRo {
                dest: "/srv".into(),
            },
            // Landlock cannot narrow a parent's grant: /usr stays covered by `/`.
            Op::RemountRo {
                dest: "/usr".into(),
            },
        ]);
        assert_eq!(paths(&r), ["/", "/srv"]);
        assert_eq!(r[0].1, full());
        // Device ioctls stay: a read-only mount does not stop them either.
        assert_eq!(r[1].1, read_exec() | AccessFs::IoctlDev);
        assert!(!r[1].1.contains(AccessFs::WriteFile) && !r[1].1.contains(AccessFs::MakeReg));
    }

    #[test]
    fn dev_proc_data_and_files() {
        let r = derive(&[
            Op::Dev {
                dest: "/dev".into(),
            },
            Op::Proc {
                dest: "/proc".into(),
            },
            Op::File {
                fd: 3,
                dest: "/etc/passwd".into(),
                perms: None,
            },
            Op::BindData {
                fd: 4,
                dest: "/etc/rw".into(),
                perms: None,
                read_only: false,
            },
            Op::BindData {
                fd: 5,
                dest: "/etc/ro".into(),
                perms: None,
                read_only: true,
            },
            Op::Dir {
                dest: "/d".into(),
                perms: None,
            },
            Op::Symlink {
                target: "usr/bin".into(),
                dest: "/bin".into(),
            },
        ]);
        assert_eq!(
            paths(&r),
            [
                "/",
                "/dev",
                "/dev/shm",
                "/etc/passwd",
                "/etc/ro",
                "/etc/rw",
                "/proc"
            ]
        );
        let devr = r[1].1;
        assert!(devr.contains(AccessFs::IoctlDev | AccessFs::WriteFile | AccessFs::Truncate));
        assert!(!devr.contains(AccessFs::MakeReg) && !devr.contains(AccessFs::Execute));
        assert_eq!(r[2].1, full());
        assert_eq!(r[3].1, read());
        assert_eq!(r[4].1, read());
        assert_eq!(r[5].1, full());
        assert_eq!(r[6].1, full());
        let exe = derive(&[Op::File {
            fd: 3,
            dest: "/run.sh".into(),
            perms: Some(0o755),
        }]);
        assert_eq!(exe[1].1, read_exec());
    }

    #[test]
    fn overlays() {
        let ov = |kind| Op::Overlay {
            sources: vec!["/a".into()],
            kind,
            dest: "/o".into(),
        };
        assert_eq!(derive(&[ov(OverlayKind::ReadOnly)])[1].1, read_exec());
        assert_eq!(derive(&[ov(OverlayKind::Tmp)])[1].1, full());
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize(Path::new("usr/../etc/./x/")), Path::new("/etc/x"));
        assert_eq!(normalize(Path::new("/../..")), Path::new("/"));
    }

    #[test]
    fn explicit_rights() {
        assert_eq!(explicit_access(PathAccess::Read), read());
        assert!(!explicit_access(PathAccess::Write).contains(AccessFs::Execute));
        assert!(explicit_access(PathAccess::Write).contains(AccessFs::MakeReg | AccessFs::ReadFile));
        assert_eq!(explicit_access(PathAccess::Exec), read_exec());
        let ex = |rules: &[(&str, PathAccess)]| {
            exec_denied_where_writable(&LandlockFs::Explicit(
                rules.iter().map(|(p, a)| (PathBuf::from(p), *a)).collect(),
            ))
        };
        use PathAccess::{Exec, Read, Write};
        assert!(ex(&[("/usr", Exec), ("/tmp", Write)]));
        assert!(ex(&[("/tmp/bin", Exec), ("/tmp", Write)]));
        assert!(!ex(&[("/", Exec), ("/tmp/", Write)]));
        assert!(!ex(&[("/usr", Exec), ("/etc", Read)]));
        assert!(!exec_denied_where_writable(&LandlockFs::Derived));
        assert!(!exec_denied_where_writable(&LandlockFs::Off));
    }

    #[test]
    fn what_old_kernels_drop() {
        let mut spec = LandlockSpec::new(Personality::Hutch);
        assert!(unsupported(&spec, 7).is_empty());
        assert_eq!(
            unsupported(&spec, 4),
            ["fs:ioctl_dev", "scope:abstract_unix_socket", "scope:signal"]
        );
        spec.connect.push(80);
        assert!(unsupported(&spec, 3).contains(&"net:connect_tcp".to_string()));
        assert!(unsupported(&spec, 1).contains(&"fs:refer".to_string()));
        assert_eq!(unsupported(&spec, 0).len(), 1);
        assert!(unsupported(&LandlockSpec::new(Personality::Bwrap), 1).is_empty());
    }
}
