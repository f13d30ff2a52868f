//! Injected failures, for the fault tests (tests/faults.rs).
//!
//! Every setup step that can fail is named once, here. Built with the cargo feature
//! `fault-injection` (test builds only: `cargo test --release --features fault-injection`),
//! hutch reads `HUTCH_FAULT=STEP[:ERRNO][,STEP[:ERRNO]...]` once when it starts (and
//! removes it from its environment, so the command never sees it). Each named step then
//! fails with ERRNO (a name such as `ENOSPC`, or a number; the step's [`Step::errno`]
//! when left out) just before it would run, through the same error path as a real
//! failure of that step. `HUTCH_FAULT=list` prints the steps and exits.
//!
//! Without the feature, [`hit`] and [`hit_io`] are `Ok(())` that the compiler removes,
//! and nothing reads the variable.
//!
//! tests/faults.rs includes this file with `#[path]` so that it iterates [`Step::ALL`]
//! and matches every step exhaustively: a new step without a fault test does not compile.
//! So this file uses nothing from the rest of hutch.

#![cfg_attr(not(feature = "fault-injection"), allow(dead_code))]

/// A setup step that can fail, in the order hutch runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Monitor: making the cgroup (`--cgroup required`, a cgroup limit), after the
    /// first directory exists, so that the half-made cgroup must be taken down.
    Cgroup,
    /// Monitor: the clone that makes the namespaces and the child.
    Clone,
    /// Monitor: starting the `--net user` helper (pasta, slirp4netns).
    NetHelper,
    /// Network helper (src/stage/netns.rs): making the network namespace beside the
    /// child. Not an error: the child then makes the namespace itself.
    NetBeside,
    /// Child: writing the uid/gid maps of the new user namespace.
    UidMap,
    /// Child: resolving a bind source on the host (the source vanished).
    BindSource,
    /// Child: listing the host's unix sockets with sock_diag (src/stage/sockets.rs). Not an
    /// error: they are read from /proc/net/unix instead.
    SocketList,
    /// Child: the base tmpfs and the first pivot.
    RootPrepare,
    /// Child: a bind mount.
    Bind,
    /// Child: a `--tmpfs` mount.
    Tmpfs,
    /// Child: mounting `--proc`.
    Proc,
    /// Child: the `--dev` tmpfs.
    Dev,
    /// Child: copying `--file` data (a full tmpfs).
    FileData,
    /// Child: the final pivot_root into the new root.
    PivotRoot,
    /// Child: `--hostname`.
    Hostname,
    /// Child: bringing up the loopback of a new network namespace.
    Loopback,
    /// Child: the nested user namespace that maps the final ids.
    NestedUserns,
    /// Child: installing the Landlock ruleset.
    Landlock,
    /// Child: dropping capabilities.
    Caps,
    /// Child: changing to the working directory.
    Chdir,
    /// Child: forking the command off pid 1.
    Fork,
    /// Command: `--rlimit`.
    Rlimit,
    /// Command: closing inherited descriptors.
    CloseFds,
    /// Command: installing the seccomp filters.
    Seccomp,
    /// Command: exec.
    Exec,
}

impl Step {
    pub const ALL: [Step; 25] = [
        Step::Cgroup,
        Step::Clone,
        Step::NetHelper,
        Step::NetBeside,
        Step::UidMap,
        Step::BindSource,
        Step::SocketList,
        Step::RootPrepare,
        Step::Bind,
        Step::Tmpfs,
        Step::Proc,
        Step::Dev,
        Step::FileData,
        Step::PivotRoot,
        Step::Hostname,
        Step::Loopback,
        Step::NestedUserns,
        Step::Landlock,
        Step::Caps,
        Step::Chdir,
        Step::Fork,
        Step::Rlimit,
        Step::CloseFds,
        Step::Seccomp,
        Step::Exec,
    ];

    /// The name used in `HUTCH_FAULT`.
    pub fn name(self) -> &'static str {
        match self {
            Step::Cgroup => "cgroup",
            Step::Clone => "clone",
            Step::NetHelper => "net-helper",
            Step::NetBeside => "net-beside",
            Step::UidMap => "uid-map",
            Step::BindSource => "bind-source",
            Step::SocketList => "socket-list",
            Step::RootPrepare => "root-prepare",
            Step::Bind => "bind",
            Step::Tmpfs => "tmpfs",
            Step::Proc => "proc",
            Step::Dev => "dev",
            Step::FileData => "file-data",
            Step::PivotRoot => "pivot-root",
            Step::Hostname => "hostname",
            Step::Loopback => "loopback",
            Step::NestedUserns => "nested-userns",
            Step::Landlock => "landlock",
            Step::Caps => "caps",
            Step::Chdir => "chdir",
            Step::Fork => "fork",
            Step::Rlimit => "rlimit",
            Step::CloseFds => "close-fds",
            Step::Seccomp => "seccomp",
            Step::Exec => "exec",
        }
    }

    /// How the error message of this step begins (after `hutch: `), injected or real.
    pub fn context(self) -> &'static str {
        match self {
            Step::Cgroup => "cannot create cgroup",
            Step::Clone => "Creating new namespace failed",
            Step::NetHelper => "--net user: pasta failed",
            // Never printed: the child recovers (see `NetBeside`).
            Step::NetBeside => "",
            Step::UidMap => "setting up uid map",
            Step::BindSource => "Can't find source path",
            // Never printed: /proc/net/unix is read instead (see `SocketList`).
            Step::SocketList => "",
            Step::RootPrepare => "Failed to mount tmpfs",
            Step::Bind => "Can't bind mount",
            Step::Tmpfs => "Can't mount tmpfs on",
            Step::Proc => "Can't mount proc on",
            Step::Dev => "Can't mount tmpfs on",
            Step::FileData => "Can't write data to file",
            Step::PivotRoot => "pivot_root(/newroot)",
            Step::Hostname => "Can't set hostname",
            Step::Loopback => "Failed to bring up loopback",
            Step::NestedUserns => "unshare user ns",
            Step::Landlock => "Landlock: installing the ruleset",
            Step::Caps => "Can't drop capabilities",
            Step::Chdir => "Can't chdir",
            Step::Fork => "fork",
            Step::Rlimit => "--rlimit: setrlimit",
            Step::CloseFds => "Can't close inherited file descriptors",
            Step::Seccomp => "seccomp: installing a filter",
            Step::Exec => "execvp",
        }
    }

    /// The errno a step fails with when `HUTCH_FAULT` names none: what the real
    /// failure most likely is.
    pub fn errno(self) -> i32 {
        match self {
            Step::Cgroup => libc::ENOSPC,
            Step::Clone => libc::EAGAIN,
            Step::NetHelper => libc::ENOENT,
            Step::NetBeside => libc::ENOMEM,
            Step::UidMap => libc::EPERM,
            Step::BindSource => libc::ENOENT,
            Step::SocketList => libc::ENOENT,
            Step::RootPrepare => libc::ENOMEM,
            Step::Bind => libc::EPERM,
            Step::Tmpfs => libc::ENOMEM,
            Step::Proc => libc::ENOMEM,
            Step::Dev => libc::ENOMEM,
            Step::FileData => libc::ENOSPC,
            Step::PivotRoot => libc::EINVAL,
            Step::Hostname => libc::EPERM,
            Step::Loopback => libc::EPERM,
            Step::NestedUserns => libc::ENOSPC,
            Step::Landlock => libc::ENOMEM,
            Step::Caps => libc::EPERM,
            Step::Chdir => libc::ENOENT,
            Step::Fork => libc::EAGAIN,
            Step::Rlimit => libc::EPERM,
            Step::CloseFds => libc::EBADF,
            Step::Seccomp => libc::EINVAL,
            Step::Exec => libc::ENOEXEC,
        }
    }

    pub fn from_name(name: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// An injected failure: converts into hutch's error as `CONTEXT: STRERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Injected {
    pub step: Step,
    pub errno: i32,
}

/// The errnos `HUTCH_FAULT` may name.
const ERRNOS: &[(&str, i32)] = &[
    ("EPERM", libc::EPERM),
    ("ENOENT", libc::ENOENT),
    ("EINTR", libc::EINTR),
    ("EIO", libc::EIO),
    ("ENOEXEC", libc::ENOEXEC),
    ("EBADF", libc::EBADF),
    ("EAGAIN", libc::EAGAIN),
    ("ENOMEM", libc::ENOMEM),
    ("EACCES", libc::EACCES),
    ("EBUSY", libc::EBUSY),
    ("EEXIST", libc::EEXIST),
    ("ENOTDIR", libc::ENOTDIR),
    ("EINVAL", libc::EINVAL),
    ("ENFILE", libc::ENFILE),
    ("EMFILE", libc::EMFILE),
    ("ENOSPC", libc::ENOSPC),
    ("EROFS", libc::EROFS),
    ("ENOSYS", libc::ENOSYS),
    ("ELOOP", libc::ELOOP),
    ("EDQUOT", libc::EDQUOT),
];

/// Parse `STEP[:ERRNO][,STEP[:ERRNO]...]`.
pub fn parse(spec: &str) -> Result<Vec<Injected>, String> {
    let mut out = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, errno) = match item.split_once(':') {
            Some((n, e)) => (n, Some(e)),
            None => (item, None),
        };
        let step = Step::from_name(name)
            .ok_or_else(|| format!("HUTCH_FAULT: unknown step {name:?} (HUTCH_FAULT=list)"))?;
        let errno = match errno {
            None => step.errno(),
            Some(e) => ERRNOS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(e))
                .map(|(_, v)| *v)
                .or_else(|| e.parse::<i32>().ok().filter(|v| *v > 0))
                .ok_or_else(|| format!("HUTCH_FAULT: unknown errno {e:?} for {name}"))?,
        };
        out.push(Injected { step, errno });
    }
    Ok(out)
}

#[cfg(feature = "fault-injection")]
static FAULTS: std::sync::OnceLock<Vec<Injected>> = std::sync::OnceLock::new();

/// Read (and remove) `HUTCH_FAULT`; call first thing in `main`, while hutch has one
/// thread. `Ok(false)` to go on, `Ok(true)` when it printed the list of steps.
#[cfg(feature = "fault-injection")]
pub fn init() -> Result<bool, String> {
    let Some(spec) = std::env::var_os("HUTCH_FAULT") else {
        return Ok(false);
    };
    std::env::remove_var("HUTCH_FAULT");
    let spec = spec.to_string_lossy();
    if spec == "list" {
        for s in Step::ALL {
            println!("{}", s.name());
        }
        return Ok(true);
    }
    let _ = FAULTS.set(parse(&spec)?);
    Ok(false)
}

/// Without the feature: nothing to read.
#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn init() -> Result<bool, String> {
    Ok(false)
}

/// Fail here if `HUTCH_FAULT` names `step`.
#[cfg(feature = "fault-injection")]
pub fn hit(step: Step) -> Result<(), Injected> {
    match FAULTS.get().and_then(|f| f.iter().find(|i| i.step == step)) {
        Some(i) => Err(*i),
        None => Ok(()),
    }
}

#[cfg(not(feature = "fault-injection"))]
#[inline(always)]
pub fn hit(_step: Step) -> Result<(), Injected> {
    Ok(())
}

/// [`hit`] as an `io::Result`, to chain before a call whose error gets the real context.
#[inline(always)]
pub fn hit_io(step: Step) -> std::io::Result<()> {
    hit(step).map_err(|i| std::io::Error::from_raw_os_error(i.errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        for s in Step::ALL {
            assert_eq!(Step::from_name(s.name()), Some(s));
        }
        let mut names: Vec<_> = Step::ALL.iter().map(|s| s.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Step::ALL.len());
    }

    #[test]
    fn parse_steps_and_errnos() {
        let v = parse("pivot-root, file-data:EIO,exec:13").unwrap();
        assert_eq!(
            v,
            vec![
                Injected {
                    step: Step::PivotRoot,
                    errno: libc::EINVAL
                },
                Injected {
                    step: Step::FileData,
                    errno: libc::EIO
                },
                Injected {
                    step: Step::Exec,
                    errno: 13
                },
            ]
        );
        assert!(parse("nope").unwrap_err().contains("unknown step \"nope\""));
        assert!(parse("exec:EWHAT").unwrap_err().contains("unknown errno"));
        assert!(parse("exec:0").is_err());
    }
}
