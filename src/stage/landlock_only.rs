//! Landlock-only mode (`--landlock-only`, `--landlock-only-fallback`): for where no
//! namespace can be made (user namespaces turned off or restricted by AppArmor, an
//! unprivileged container, a sandbox made with `--disable-userns`), the command runs
//! in the host's file system, as the caller, confined by Landlock, the seccomp policy
//! and no_new_privs. Nothing is mounted; the mount plan becomes Landlock rules where
//! that keeps its meaning, and anything else is refused with one error naming it.
//!
//! | option                                        | in Landlock-only mode                   |
//! |-----------------------------------------------|-----------------------------------------|
//! | `--ro-bind X X` (and `-try`)                  | read and execute beneath X              |
//! | `--bind X X`, `--dev-bind X X`, `--bind-create X X` (and `-try`) | every right beneath X |
//! | `--remount-ro X`                              | X's rule loses its write rights; refused if a rule above X still grants writing (Landlock cannot take it away) |
//! | a bind whose source is not its destination, `--bind-fd`, `--tmpfs`, `--proc`, `--dev`, `--mqueue`, `--dir`, `--file`, `--bind-data`, `--symlink`, `--chmod`, overlays | refused: they need a mount namespace (or would change the host) |
//! | `--unshare-user/-ipc/-pid/-net/-uts/-cgroup`, `--unshare-all`, `--net user`, `--userns`, `--userns2`, `--pidns`, `--userns-block-fd` | refused (`-try` forms are skipped, as their meaning allows) |
//! | `--uid`, `--gid` other than the caller's, `--hostname` | refused                          |
//! | `--disable-userns`, `--assert-userns-disabled` | kept by the default seccomp policy (which refuses `unshare`, `clone(CLONE_NEWUSER)` and `clone3`); refused with `--seccomp-policy none` or a policy file, or `--seccomp-action log` |
//! | Landlock rules, `--landlock-connect/-bind`, scoping, seccomp, `--chdir`, the environment, `--cap-*`, fds, limits | as usual |
//!
//! Metadata changes (chmod, chown, utimes, xattrs), for which Landlock has no right,
//! are checked against the write rules by a supervisor in the monitor
//! (src/stage/supervise.rs), unless `--landlock-only-metadata allow`.
//!
//! With no `/` rule, the host's root directory is not listable (a sandbox's own
//! root would be). Capabilities: none unless `--cap-add` (also for root).

use std::collections::HashSet;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use ::caps::Capability;

use crate::error::{Error, Result};
use crate::landlock::{derive, normalize, read_exec, Access};
use crate::spec::{Op, OverlayKind, PolicyAction, PolicySource, Spec, Unshare};

/// Where the checks say what Landlock-only mode maps.
const MAPS: &str = "Landlock-only mode maps only a --bind, --ro-bind or --dev-bind of a path \
                    onto itself, and --remount-ro";

fn refuse(what: impl std::fmt::Display, why: &str) -> Error {
    Error::msg(format!(
        "{what}: not possible in Landlock-only mode ({why})"
    ))
}

/// A mount op as written on the command line, for messages.
pub fn op_words(op: &Op) -> String {
    let d = |p: &Path| p.display().to_string();
    let args = match op {
        Op::Bind { src, dest, .. } => format!("{} {}", d(src), d(dest)),
        Op::BindFd { fd, dest, .. } | Op::File { fd, dest, .. } | Op::BindData { fd, dest, .. } => {
            format!("{fd} {}", d(dest))
        }
        Op::Symlink { target, dest } => format!("{} {}", d(target), d(dest)),
        Op::Chmod { perms, path } => format!("{perms:o} {}", d(path)),
        Op::Overlay {
            kind: OverlayKind::ReadWrite { upper, work },
            dest,
            ..
        } => format!("{} {} {}", d(upper), d(work), d(dest)),
        op => d(op.dest()),
    };
    format!("--{} {args}", op.flag())
}

/// A bind source as a sandbox path: relative sources are the caller's cwd's.
fn host_path(src: &Path) -> PathBuf {
    if src.is_absolute() {
        normalize(src)
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        normalize(&cwd.join(src))
    }
}

/// Whether `a` grants any right a read-only mount would take away.
fn writes(a: Access) -> bool {
    !(a & !(read_exec() | ::landlock::AccessFs::IoctlDev)).is_empty()
}

/// The mount plan in Landlock-only mode: fine, or the first op that cannot be mapped.
pub fn check_ops(ops: &[Op]) -> Result<()> {
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Bind { src, dest, .. } => {
                if host_path(src) != normalize(dest) {
                    return Err(refuse(
                        op_words(op),
                        "no mount namespace: a source can only be bound onto itself",
                    ));
                }
            }
            Op::RemountRo { dest } => {
                // What the plan so far grants at `dest` once this op has taken the
                // write rights of `dest`'s own rule: any rule on `dest` or above it.
                let dest = normalize(dest);
                let rules = derive(&ops[..=i]);
                if let Some((p, _)) = rules
                    .iter()
                    .find(|(p, a)| dest.starts_with(p) && writes(*a))
                {
                    return Err(refuse(
                        op_words(op),
                        &format!(
                            "no mount namespace, and the rule on {} grants writing beneath it, \
                             which Landlock cannot take away",
                            p.display()
                        ),
                    ));
                }
            }
            Op::BindFd { .. } => {
                return Err(refuse(op_words(op), &format!("no mount namespace; {MAPS}")))
            }
            Op::Dir { .. } | Op::Chmod { .. } | Op::Symlink { .. } => {
                return Err(refuse(
                    op_words(op),
                    &format!("it would change the host's file system; {MAPS}"),
                ))
            }
            Op::Proc { .. }
            | Op::Dev { .. }
            | Op::Tmpfs { .. }
            | Op::Mqueue { .. }
            | Op::File { .. }
            | Op::BindData { .. }
            | Op::Overlay { .. } => {
                return Err(refuse(op_words(op), &format!("no mount namespace; {MAPS}")))
            }
        }
    }
    Ok(())
}

/// Whether the default seccomp policy will refuse new user namespaces.
fn seccomp_blocks_userns(spec: &Spec) -> bool {
    spec.seccomp_policy.source == PolicySource::Default
        && spec.seccomp_policy.action != PolicyAction::Log
}

/// Everything in `spec` that Landlock-only mode cannot honour, as one error naming it.
/// `uid`/`gid`: the caller's; `abi`: the kernel's Landlock ABI.
pub fn check(spec: &Spec, uid: u32, gid: u32, abi: i32) -> Result<()> {
    let ns = &spec.ns;
    // hutch's default pid namespace is dropped, not refused (src/run/sandbox.rs).
    let pid = ns.pid && !ns.pid_default;
    if ns.ipc && pid && ns.net && ns.uts {
        return Err(refuse("--unshare-all", "no namespaces"));
    }
    let wanted = [
        (
            "--unshare-user",
            ns.user == Unshare::Yes,
            "no user namespace",
        ),
        ("--unshare-ipc", ns.ipc, "no ipc namespace"),
        ("--unshare-pid", pid, "no pid namespace"),
        (
            "--unshare-net",
            ns.net && !spec.net.user,
            "no network namespace; --landlock-connect and --landlock-bind can restrict TCP",
        ),
        (
            "--net user",
            ns.net && spec.net.user,
            "no network namespace",
        ),
        ("--unshare-uts", ns.uts, "no uts namespace"),
        (
            "--unshare-cgroup",
            ns.cgroup == Unshare::Yes,
            "no cgroup namespace",
        ),
        ("--userns", spec.userns_fd.is_some(), "no namespaces"),
        ("--userns2", spec.userns2_fd.is_some(), "no namespaces"),
        ("--pidns", spec.pidns_fd.is_some(), "no namespaces"),
        (
            "--userns-block-fd",
            spec.userns_block_fd.is_some(),
            "no user namespace",
        ),
        ("--hostname", spec.hostname.is_some(), "no uts namespace"),
    ];
    if let Some((flag, _, why)) = wanted.iter().find(|(_, on, _)| *on) {
        return Err(refuse(flag, why));
    }
    if let Some(u) = spec.uid.filter(|u| *u != uid) {
        return Err(refuse(
            format!("--uid {u}"),
            &format!("no user namespace: the command runs as uid {uid}"),
        ));
    }
    if let Some(g) = spec.gid.filter(|g| *g != gid) {
        return Err(refuse(
            format!("--gid {g}"),
            &format!("no user namespace: the command runs as gid {gid}"),
        ));
    }
    for (flag, on) in [
        ("--disable-userns", spec.disable_userns),
        ("--assert-userns-disabled", spec.assert_userns_disabled),
    ] {
        if on && !seccomp_blocks_userns(spec) {
            return Err(refuse(
                flag,
                "without a user namespace only the default seccomp policy, with the errno or \
                 kill action, keeps new user namespaces from being made",
            ));
        }
    }
    if !spec.landlock.enabled() {
        return Err(Error::msg(
            "Landlock-only mode needs Landlock: it cannot be combined with --landlock off",
        ));
    }
    if abi <= 0 {
        return Err(Error::msg(
            "Landlock-only mode needs Landlock, which this kernel does not have (or has \
             turned off: lsm= on the kernel command line)",
        ));
    }
    check_ops(&spec.ops)
}

/// The capabilities the command keeps: none, or those added with `--cap-add`
/// that hutch holds (`permitted`: there is no user namespace to grant others).
pub fn keep_caps(spec: &Spec, permitted: &HashSet<Capability>) -> Result<HashSet<Capability>> {
    for op in &spec.caps {
        if let crate::spec::CapOp::Add(crate::spec::CapSet::One(c)) = op {
            if !permitted.contains(c) {
                return Err(Error::msg(format!(
                    "--cap-add {c}: hutch does not hold it (Landlock-only mode has no user \
                     namespace to grant it)"
                )));
            }
        }
    }
    Ok(crate::caps::requested(
        &spec.caps,
        HashSet::new(),
        permitted.clone(),
    ))
}

/// Can the sandbox's namespaces be made here? A child tries what the sandbox's first
/// steps do: clone into a new user (if the sandbox needs one) and mount namespace,
/// write the id maps and make `/` a slave mount. The error is the sandbox's own
/// first error, without the diagnosis. `userns`: whether the sandbox makes a user
/// namespace (`plan::makes_user_ns`); `uid`/`gid`: the caller's.
pub fn probe(userns: bool, uid: u32, gid: u32) -> std::result::Result<(), Error> {
    let mut flags = libc::CLONE_NEWNS;
    if userns {
        flags |= libc::CLONE_NEWUSER;
    }
    // Exit codes of the child: 0, or the failing step's bit with its errno.
    const MAPS_FAILED: i32 = 0x40;
    const MOUNT_FAILED: i32 = 0x80;
    let pid =
        crate::sys::clone_fork(flags).map_err(|e| Error::io("Creating new namespace failed", e))?;
    if pid == 0 {
        let errno = |e: std::io::Error| e.raw_os_error().unwrap_or(libc::EPERM) & 0x3f;
        if userns {
            let own = crate::userns::Ids { uid, gid };
            let maps = crate::userns::Layout::new(own, None, None, true, |_| false).outer_maps();
            let maps = std::fs::File::open("/proc/self")
                .and_then(|dir| crate::userns::write_maps(dir.as_fd(), &maps));
            if let Err(e) = maps {
                crate::sys::exit_now(MAPS_FAILED | errno(e));
            }
        }
        let slave = nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_SLAVE | nix::mount::MsFlags::MS_REC,
            None::<&str>,
        );
        if let Err(e) = slave {
            crate::sys::exit_now(MOUNT_FAILED | errno(e.into()));
        }
        crate::sys::exit_now(0);
    }
    let status = loop {
        match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => break code,
            Err(nix::errno::Errno::EINTR) => continue,
            _ => break MOUNT_FAILED | libc::EPERM,
        }
    };
    let err = |code: i32| std::io::Error::from_raw_os_error(code & 0x3f);
    match status {
        0 => Ok(()),
        s if s & MAPS_FAILED != 0 => Err(Error::io("setting up uid map", err(s))),
        s => Err(Error::io("Failed to make / slave", err(s))),
    }
}

/// Under the hutch name, one line when hutch's own configuration stays writable in
/// Landlock-only mode: nothing is mounted there, and Landlock cannot take write access
/// away beneath a rule that grants it (`--bind ~ ~`, `--landlock-write ~`).
pub fn config_warning(spec: &Spec) -> Option<String> {
    use crate::spec::{BindKind, LandlockFs, PathAccess};
    let canon = |p: &Path| std::fs::canonicalize(p).ok();
    let mut writable: Vec<PathBuf> = Vec::new();
    match &spec.landlock.fs {
        LandlockFs::Explicit(rules) => writable.extend(
            rules
                .iter()
                .filter(|(_, a)| *a == PathAccess::Write)
                .map(|(p, _)| p.clone()),
        ),
        _ => writable.extend(spec.ops.iter().filter_map(|op| match op {
            Op::Bind { src, kind, .. } if *kind != BindKind::ReadOnly => Some(src.clone()),
            _ => None,
        })),
    }
    for dir in &spec.config_dirs {
        let Some(conf) = canon(dir) else { continue };
        if let Some(w) = writable
            .iter()
            .find(|w| canon(w).is_some_and(|w| conf.starts_with(w)))
        {
            return Some(format!(
                "hutch's configuration {} stays writable in Landlock-only mode (beneath {}): \
                 Landlock cannot take write access away beneath a rule",
                dir.display(),
                w.display()
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::BindKind;
    use crate::spec::Personality;

    #[test]
    fn binds_onto_themselves_map_the_rest_is_refused() {
        let ok = [
            Op::bind("/", "/", BindKind::ReadOnly),
            Op::bind("/tmp/x/", "/tmp/./x", BindKind::ReadWrite),
            Op::bind("/dev/null", "/dev/null", BindKind::Dev),
        ];
        check_ops(&ok).unwrap();
        let e = check_ops(&[Op::bind("/a", "/b", BindKind::ReadOnly)]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--ro-bind /a /b: not possible in Landlock-only mode (no mount namespace: a source \
             can only be bound onto itself)"
        );
        for (op, words) in [
            (
                Op::Tmpfs {
                    dest: "/tmp".into(),
                    perms: None,
                    size: None,
                },
                "--tmpfs /tmp",
            ),
            (
                Op::Proc {
                    dest: "/proc".into(),
                },
                "--proc /proc",
            ),
            (
                Op::Dev {
                    dest: "/dev".into(),
                },
                "--dev /dev",
            ),
            (
                Op::Symlink {
                    target: "usr/bin".into(),
                    dest: "/bin".into(),
                },
                "--symlink usr/bin /bin",
            ),
            (
                Op::File {
                    fd: 3,
                    dest: "/f".into(),
                    perms: None,
                },
                "--file 3 /f",
            ),
            (
                Op::Overlay {
                    sources: vec!["/a".into()],
                    kind: OverlayKind::Tmp,
                    dest: "/o".into(),
                },
                "--tmp-overlay /o",
            ),
            (
                Op::Dir {
                    dest: "/d".into(),
                    perms: None,
                },
                "--dir /d",
            ),
        ] {
            let e = check_ops(&[op]).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{words}: not possible in Landlock-only mode (")),
                "{e}"
            );
        }
    }

    #[test]
    fn remount_ro_only_where_landlock_can_enforce_it() {
        // Its own rule loses the write rights: fine.
        check_ops(&[
            Op::bind("/", "/", BindKind::ReadOnly),
            Op::bind("/srv", "/srv", BindKind::ReadWrite),
            Op::RemountRo {
                dest: "/srv".into(),
            },
        ])
        .unwrap();
        // A writable rule above it: refused, naming that rule.
        let e = check_ops(&[
            Op::bind("/", "/", BindKind::ReadWrite),
            Op::RemountRo {
                dest: "/usr".into(),
            },
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("--remount-ro /usr: not possible in Landlock-only mode (no mount namespace, and the rule on / grants writing"),
            "{e}"
        );
    }

    #[test]
    fn namespaces_ids_and_hostname_are_refused() {
        let spec = |f: &dyn Fn(&mut Spec)| {
            let mut s = Spec::new(Personality::Hutch);
            s.landlock_only = crate::spec::LandlockOnly::On;
            f(&mut s);
            check(&s, 1000, 1000, 7).map_err(|e| e.to_string())
        };
        assert_eq!(spec(&|_| {}), Ok(()));
        let all = spec(&|s| {
            s.ns.ipc = true;
            s.ns.pid = true;
            s.ns.net = true;
            s.ns.uts = true;
        });
        assert_eq!(
            all.unwrap_err(),
            "--unshare-all: not possible in Landlock-only mode (no namespaces)"
        );
        assert!(spec(&|s| s.ns.net = true)
            .unwrap_err()
            .starts_with("--unshare-net: not possible in Landlock-only mode (no network namespace; --landlock-connect"));
        assert!(spec(&|s| s.hostname = Some("h".into()))
            .unwrap_err()
            .starts_with("--hostname: "));
        // -try forms are skipped.
        assert_eq!(
            spec(&|s| {
                s.ns.user = Unshare::Try;
                s.ns.cgroup = Unshare::Try
            }),
            Ok(())
        );
        let me = 1000;
        assert_eq!(spec(&|s| s.uid = Some(me)), Ok(()));
        assert!(spec(&|s| s.uid = Some(me + 1))
            .unwrap_err()
            .starts_with(&format!("--uid {}: ", me + 1)));
        // --disable-userns: kept by the default seccomp policy, not without it.
        assert_eq!(spec(&|s| s.disable_userns = true), Ok(()));
        assert!(spec(&|s| {
            s.disable_userns = true;
            s.seccomp_policy.source = PolicySource::None;
        })
        .unwrap_err()
        .starts_with("--disable-userns: "));
        assert!(
            spec(&|s| s.landlock = crate::spec::LandlockSpec::new(Personality::Bwrap))
                .unwrap_err()
                .contains("--landlock off")
        );
        // A kernel without Landlock.
        let s = Spec::new(Personality::Hutch);
        assert!(check(&s, 1000, 1000, 0)
            .unwrap_err()
            .to_string()
            .starts_with("Landlock-only mode needs Landlock, which this kernel does not have"));
    }
}
