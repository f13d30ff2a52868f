//! The plan: every check and every decision between the command line and the sandbox.
//!
//! ```text
//! Spec (the command line, plain data) ─┐
//!                                      ├─► Plan::new (pure) ─► Plan ─► sandbox::run
//! Host::probe (the machine's facts) ───┘                          └─► --explain, --report,
//!                                                                     --info-fd
//! ```
//!
//! [`Host`] is everything read from the machine that a decision depends on: the
//! caller's ids, the kernel's version and features, the Landlock ABI, whether user
//! namespaces may be made, the capabilities hutch holds, and the inputs named on the
//! command line (the seccomp programs in fds and files). [`Host::probe`] does that I/O
//! and nothing else; [`Plan::new`] does none, so that a hand-made `Host` tests it.
//!
//! The [`Plan`] holds every check in bwrap's order (the first that fails is the
//! error) and every decision: the namespaces, the id layout and its nesting, the
//! capabilities the command keeps, the Landlock rules, the seccomp programs, and how
//! the child is made. `--explain`, `--report` and `--info-fd` read it; nothing decides
//! again.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use ::caps::Capability;

use crate::error::{Error, Result};
use crate::seccomp::Program;
use crate::spec::{CapOp, CapSet, EnvOp, LandlockOnly, Personality, ReportTo, Spec, Unshare};
use crate::userns;

/// The facts read from the machine that the plan depends on ([`Host::probe`]).
///
/// Some facts are read only when the command line makes them matter (a start-up
/// costs every syscall it makes); the field says when.
#[derive(Debug)]
pub struct Host {
    /// The caller's real uid and gid.
    pub uid: u32,
    pub gid: u32,
    /// The running kernel's version, (major, minor).
    pub kernel: (u32, u32),
    /// The Landlock ABI version; 0 or less: no Landlock.
    pub landlock_abi: i32,
    /// Whether a user namespace may be made (`/proc/self/ns/user`, the module
    /// parameter, `user.max_user_namespaces`). Read only for `--unshare-user-try`.
    pub userns_available: bool,
    /// Whether the kernel has cgroup namespaces. Read only for `--unshare-cgroup-try`.
    pub cgroup_ns_available: bool,
    /// hutch's effective and permitted capabilities (read for root and in
    /// Landlock-only mode; anyone else starts from none), and the kernel's known ones.
    pub caps_effective: HashSet<Capability>,
    pub caps_permitted: HashSet<Capability>,
    pub caps_supported: HashSet<Capability>,
    /// Seccomp user notification (Linux 5.0). Read only for Landlock-only mode.
    pub seccomp_notify: bool,
    /// `--landlock-only-fallback`: whether the sandbox's namespaces can be made here,
    /// tried by a child (see `landlock_only::probe`). `None` when not tried.
    pub namespaces: Option<std::result::Result<(), String>>,
    /// The caller's working directory, as the sandbox keeps it (see [`logical_cwd`]).
    pub cwd: Option<PathBuf>,
    /// The fds given to `--info-fd`, `--json-status-fd`, `--sync-fd`, `--block-fd`,
    /// `--userns-block-fd` and `--report-fd` that are not open.
    pub closed_fds: Vec<RawFd>,
    /// The seccomp programs named on the command line, read (`None`: not read, as
    /// for `--explain`, which runs nothing and consumes no fd).
    pub inputs: Option<Inputs>,
}

/// What the command line names that must be read: `--seccomp-policy FILE` and the
/// `--seccomp`/`--add-seccomp-fd` programs, in the order given.
#[derive(Debug, Default)]
pub struct Inputs {
    /// `--seccomp-policy FILE`: the file's text, or why it could not be read.
    pub policy_file: Option<std::result::Result<Vec<u8>, String>>,
    /// Every seccomp fd's bytes (read in turn, as bwrap does: the same fd named twice
    /// fails on the second read), up to the first that fails.
    pub seccomp_fds: Vec<Result<Vec<u8>>>,
}

impl Host {
    /// Read the facts `spec` needs, and the inputs it names. No check fails here: the
    /// plan reports what is wrong, in bwrap's order.
    pub fn probe(spec: &Spec) -> Host {
        let mut host = Host::probe_facts(spec);
        host.inputs = Some(Inputs::read(spec));
        host
    }

    /// The facts alone, without consuming any fd or reading a policy file: for
    /// `--explain`. (It still tries the namespaces for `--landlock-only-fallback`.)
    pub fn probe_facts(spec: &Spec) -> Host {
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let kernel = nix::sys::utsname::uname()
            .map(|u| crate::units::kernel_version(&u.release().to_string_lossy()))
            .unwrap_or((0, 0));
        let userns_available = spec.ns.user != Unshare::Try || user_ns_available();
        // hutch's own capabilities matter to root, and in Landlock-only mode.
        let caps = |set: fn() -> HashSet<Capability>| match uid == 0
            || spec.landlock_only != LandlockOnly::Off
        {
            true => set(),
            false => HashSet::new(),
        };
        let mut host = Host {
            uid,
            gid,
            kernel,
            landlock_abi: crate::sys::landlock_abi(),
            userns_available,
            cgroup_ns_available: spec.ns.cgroup == Unshare::Try
                && Path::new("/proc/self/ns/cgroup").exists(),
            caps_effective: caps(crate::caps::current_effective),
            caps_permitted: caps(crate::caps::current_permitted),
            caps_supported: crate::caps::supported(),
            seccomp_notify: spec.landlock_only != LandlockOnly::Off
                && crate::supervise::available(),
            namespaces: None,
            cwd: logical_cwd(
                &environment(&spec.env),
                spec.personality == Personality::Bwrap,
            ),
            closed_fds: report_fds(spec)
                .into_iter()
                .filter_map(|(_, fd)| fd)
                .filter(|fd| !crate::sys::fd_is_open(*fd))
                .collect(),
            inputs: None,
        };
        if spec.landlock_only == LandlockOnly::Fallback {
            let userns = makes_user_ns(spec, &host);
            host.namespaces =
                Some(crate::landlock_only::probe(userns, uid, gid).map_err(|e| e.to_string()));
        }
        host
    }

    /// A host with nothing probed, for tests: uid/gid 1000, Linux 6.18, Landlock ABI 7,
    /// user namespaces, no capabilities.
    #[cfg(test)]
    pub fn fake() -> Host {
        Host {
            uid: 1000,
            gid: 1000,
            kernel: (6, 18),
            landlock_abi: 7,
            userns_available: true,
            cgroup_ns_available: true,
            caps_effective: HashSet::new(),
            caps_permitted: HashSet::new(),
            caps_supported: ::caps::all(),
            seccomp_notify: true,
            namespaces: None,
            cwd: Some(PathBuf::from("/")),
            closed_fds: Vec::new(),
            inputs: Some(Inputs::default()),
        }
    }
}

impl Inputs {
    /// Read what `spec` names, in order; stops at the first fd that fails.
    pub fn read(spec: &Spec) -> Inputs {
        let policy_file = match &spec.seccomp_policy.source {
            crate::spec::PolicySource::File(p) => {
                Some(std::fs::read(p).map_err(|e| crate::error::strerror(&e)))
            }
            _ => None,
        };
        let mut seccomp_fds = Vec::new();
        for fd in spec.seccomp.replace.iter().chain(spec.seccomp.add.iter()) {
            let data = Program::read_raw(*fd);
            let failed = data.is_err();
            seccomp_fds.push(data);
            if failed {
                break;
            }
        }
        Inputs {
            policy_file,
            seccomp_fds,
        }
    }
}

/// The fds the sandbox reports on or waits at, by flag, for the open check.
fn report_fds(spec: &Spec) -> [(&'static str, Option<RawFd>); 6] {
    [
        ("--info-fd", spec.info_fd),
        ("--json-status-fd", spec.json_status_fd),
        ("--sync-fd", spec.sync_fd),
        ("--block-fd", spec.block_fd),
        ("--userns-block-fd", spec.userns_block_fd),
        (
            "--report-fd",
            match spec.report {
                Some(ReportTo::Fd(fd)) => Some(fd),
                _ => None,
            },
        ),
    ]
}

fn user_ns_available() -> bool {
    Path::new("/proc/self/ns/user").exists()
        && std::fs::read_to_string("/sys/module/user_namespace/parameters/enable")
            .map(|s| !s.starts_with('N'))
            .unwrap_or(true)
        && std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
            .map(|s| s.trim() != "0")
            .unwrap_or(true)
}

/// The namespaces the sandbox gets (new ones; joined ones are not listed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub user: bool,
    pub mnt: bool,
    pub pid: bool,
    pub net: bool,
    pub ipc: bool,
    pub uts: bool,
    pub cgroup: bool,
}

/// Landlock-only mode's metadata changes (`--report`'s `metadata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metadata {
    /// A namespace sandbox: read-only mounts refuse them.
    NotNeeded,
    /// `--landlock-only-metadata allow`.
    Allowed,
    /// The kernel has no seccomp user notification (before 5.0).
    Unsupported,
    /// A supervisor checks them against the Landlock rules (src/stage/supervise.rs), with
    /// the capabilities the command keeps (a mask).
    Supervised { caps: u64 },
}

impl Metadata {
    pub fn status(&self) -> &'static str {
        match self {
            Metadata::NotNeeded => "not needed",
            Metadata::Allowed => "allowed",
            Metadata::Unsupported => "none",
            Metadata::Supervised { .. } => "supervised",
        }
    }
}

/// What refuses memfd execution where the Landlock rules forbid executing some
/// writable place (Landlock does not see memfds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Memfd {
    /// The rules let the command execute wherever it can write.
    NotNeeded,
    /// The sysctl cannot be set: why.
    NoSysctl(String),
    /// `vm.memfd_noexec` at this level in the sandbox's pid namespace, if the kernel
    /// has it (6.3) and lets the sandbox set it (see `sandbox::set_memfd_noexec`).
    Sysctl(u8),
}

/// What happens to the capabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caps {
    /// Whether hutch changes them at all: real root without a new user namespace and
    /// without `--cap-add`/`--cap-drop` keeps everything untouched, as bwrap.
    pub change: bool,
    /// The capabilities the command keeps.
    pub keep: HashSet<Capability>,
    /// The bounding set is emptied (a user namespace of the sandbox's own, or root
    /// with CAP_SETPCAP in Landlock-only mode).
    pub drop_bounding: bool,
    /// uid 0 with `--cap-add`/`--cap-drop`: SECBIT_NOROOT, so that exec does not
    /// give back the bounding set; only ambient capabilities pass.
    pub noroot: bool,
}

/// The Landlock part of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landlock {
    /// The kernel's ABI.
    pub abi: i32,
    /// What was asked and this kernel cannot enforce.
    pub unsupported: Vec<String>,
    /// The path rules, derived from the mounts or given (none when the filesystem is
    /// not handled).
    pub rules: Vec<crate::landlock::PathRule>,
}

/// Every decision between the command line and the sandbox. See the module docs.
#[derive(Debug)]
pub struct Plan {
    pub real_uid: u32,
    /// Landlock-only mode: no namespaces, no new root (src/stage/landlock_only.rs).
    pub landlock_only: bool,
    /// The namespaces the sandbox gets.
    pub ns: Namespaces,
    /// A user namespace is joined (`--userns`).
    pub joined_userns: bool,
    /// The ids of the sandbox and the maps that give them.
    pub layout: userns::Layout,
    /// The namespaces `clone` makes.
    pub clone_flags: libc::c_int,
    /// The network namespace is made beside the child's setup, not by `clone`
    /// (src/stage/netns.rs).
    pub net_beside: bool,
    /// The cwd before anything changed, to keep it in the sandbox if it exists.
    pub old_cwd: Option<PathBuf>,
    /// Seccomp programs: the built-in policy first, then the caller's (whose errno
    /// wins a tie). Empty for `--explain` (nothing read).
    pub seccomp: Vec<Program>,
    pub caps: Caps,
    pub landlock: Landlock,
    pub memfd: Memfd,
    pub metadata: Metadata,
    /// A pid 1 reaps everything while the command runs as pid 2.
    pub init: bool,
    /// Under the hutch name: the default process bound, or why there is none.
    pub default_nproc: std::result::Result<u64, &'static str>,
    /// The child may be made by `sys::clone_shared`, in the monitor's memory, as far
    /// as the plan can tell (the monitor adds: no cgroup, no watchdog).
    pub shared_child: bool,
    /// `--die-with-parent` in a new pid namespace made by clone: the child checks a
    /// pidfd of the monitor, as getppid() says nothing there.
    pub monitor_pidfd: bool,
    /// What would stop the sandbox, for `--explain` (see [`Plan::explain`]); empty
    /// from [`Plan::new`], which returns the first as its error instead.
    pub problems: Problems,
}

/// The problems `--explain` shows.
#[derive(Debug, Default)]
pub struct Problems {
    /// Landlock-only mode cannot honour something asked.
    pub landlock_only: Option<Error>,
    /// A capability cannot be kept.
    pub caps: Option<Error>,
}

/// Whether the sandbox gets a new user namespace: asked for, or implied for
/// anyone but root (bwrap is never setuid here), unless one is joined with --userns.
pub fn makes_user_ns(spec: &Spec, host: &Host) -> bool {
    match spec.ns.user {
        Unshare::Yes => true,
        Unshare::Try => host.userns_available,
        Unshare::No => host.uid != 0 && spec.userns_fd.is_none(),
    }
}

/// Whether a new user namespace is set up as uid 0 and the final ids mapped in a
/// nested one: devpts needs uid 0 mapped, and --disable-userns needs the nesting.
pub fn nested_user_ns(spec: &Spec, sandbox_uid: u32, sandbox_gid: u32) -> bool {
    spec.disable_userns || (spec.needs_devpts() && (sandbox_uid != 0 || sandbox_gid != 0))
}

/// The capabilities the command keeps. Real root starts from its own effective
/// set (read before a new user namespace grants a full one), anyone else from
/// nothing. Without a new user namespace, root can only keep what it has: there
/// `ALL` means its permitted set, and naming a capability it lacks is an error.
pub fn keep_caps(spec: &Spec, host: &Host, new_userns: bool) -> Result<HashSet<Capability>> {
    let real_root = host.uid == 0;
    let initial = if real_root {
        host.caps_effective.clone()
    } else {
        HashSet::new()
    };
    if real_root && !new_userns {
        let permitted = &host.caps_permitted;
        for op in &spec.caps {
            if let CapOp::Add(CapSet::One(c)) = op {
                if !permitted.contains(c) {
                    return Err(Error::msg(format!(
                        "Can't add capability {c}: hutch does not hold it"
                    )));
                }
            }
        }
        return Ok(crate::caps::requested(
            &spec.caps,
            initial,
            permitted.clone(),
        ));
    }
    Ok(crate::caps::requested(
        &spec.caps,
        initial,
        host.caps_supported.clone(),
    ))
}

/// Whether a pid 1 reaps everything while the command runs as pid 2.
fn need_init(spec: &Spec, pid_ns: bool) -> bool {
    !spec.as_pid_1 && (pid_ns || !spec.lock_files.is_empty() || spec.sync_fd.is_some())
}

/// The level of `vm.memfd_noexec` the sandbox sets: 2 refuses `MFD_EXEC` (6.6 and
/// later; before, 2 refused every memfd_create without MFD_NOEXEC_SEAL), else 1.
fn memfd_level(kernel: (u32, u32)) -> u8 {
    if kernel >= (6, 6) {
        2
    } else {
        1
    }
}

/// Whether Landlock-only mode applies, and the one line that says why when
/// `--landlock-only-fallback` fell back to it.
pub fn landlock_only(spec: &Spec, host: &Host) -> (bool, Option<String>) {
    match spec.landlock_only {
        LandlockOnly::Off => (false, None),
        LandlockOnly::On => (true, None),
        LandlockOnly::Fallback => match &host.namespaces {
            Some(Err(e)) => (
                true,
                Some(format!(
                    "no namespaces here ({e}): running in Landlock-only mode \
                     (--landlock-only-fallback)"
                )),
            ),
            _ => (false, None),
        },
    }
}

/// The Landlock path rules and what the kernel lacks.
fn landlock_plan(spec: &Spec, host: &Host, landlock_only: bool) -> Landlock {
    let ll = &spec.landlock;
    let rules = crate::landlock::path_rules(ll, &spec.ops, landlock_only);
    Landlock {
        abi: host.landlock_abi,
        unsupported: if ll.enabled() {
            crate::landlock::unsupported(ll, host.landlock_abi)
        } else {
            Vec::new()
        },
        rules,
    }
}

impl Plan {
    /// Every check, in bwrap's order, and every decision. Pure: the facts come from
    /// `host`.
    pub fn new(spec: &Spec, host: &Host) -> Result<Plan> {
        Plan::build(spec, host, true)
    }

    /// The plan as `--explain` shows it: every decision, even where a check fails
    /// (the problems it shows are in [`Plan::problems`]); no seccomp program is read.
    pub fn explain(spec: &Spec, host: &Host) -> Plan {
        match Plan::build(spec, host, false) {
            Ok(plan) => plan,
            // Not strict: nothing returns an error.
            Err(e) => unreachable!("a lenient plan failed: {e}"),
        }
    }

    fn build(spec: &Spec, host: &Host, strict: bool) -> Result<Plan> {
        let mut problems = Problems::default();
        // Strict: the first failed check is the error. Lenient: the checks are skipped.
        macro_rules! check {
            ($cond:expr, $msg:expr) => {
                if strict && $cond {
                    return Err(Error::msg($msg));
                }
            };
        }
        let (real_uid, real_gid) = (host.uid, host.gid);
        let (landlock_only, _) = landlock_only(spec, host);
        if landlock_only {
            if let Err(e) = crate::landlock_only::check(spec, real_uid, real_gid, host.landlock_abi)
            {
                if strict {
                    return Err(e);
                }
                problems.landlock_only = Some(e);
            }
        }
        // Landlock-only mode has no pid namespace: hutch's default one is dropped.
        let pid_ns = spec.ns.pid && !(landlock_only && spec.ns.pid_default);
        check!(
            spec.userns_block_fd.is_some() && spec.ns.user != Unshare::Yes,
            "--userns-block-fd requires --unshare-user"
        );
        check!(
            spec.userns_block_fd.is_some() && spec.info_fd.is_none(),
            "--userns-block-fd requires --info-fd"
        );
        check!(
            spec.userns_fd.is_some() && spec.ns.user == Unshare::Yes,
            "--userns not compatible --unshare-user"
        );
        check!(
            spec.userns_fd.is_some() && spec.ns.user == Unshare::Try,
            "--userns not compatible --unshare-user-try"
        );
        check!(
            spec.disable_userns && spec.ns.user != Unshare::Yes && !landlock_only,
            "--disable-userns requires --unshare-user"
        );
        check!(
            spec.exec_label.is_some() || spec.file_label.is_some(),
            "labeling not supported on this system"
        );
        // Not root: a user namespace is implied (bwrap is never setuid here),
        // unless the caller gives one to join with --userns.
        let userns = !landlock_only && makes_user_ns(spec, host);
        let joined = spec.userns_fd.is_some();
        // devpts needs uid 0 mapped: map 0 first and switch to the final ids in a
        // nested user namespace once the root is built, as bwrap does.
        let layout = userns::Layout::new(
            userns::Ids {
                uid: real_uid,
                gid: real_gid,
            },
            spec.uid,
            spec.gid,
            userns,
            |ids| nested_user_ns(spec, ids.uid, ids.gid),
        );
        let (sandbox_uid, sandbox_gid) = (layout.sandbox.uid, layout.sandbox.gid);
        check!(
            sandbox_uid != real_uid && !userns && !joined,
            "Specifying --uid requires --unshare-user or --userns"
        );
        check!(
            sandbox_gid != real_gid && !userns && !joined,
            "Specifying --gid requires --unshare-user or --userns"
        );
        check!(
            spec.hostname.is_some() && !spec.ns.uts,
            "Specifying --hostname requires --unshare-uts"
        );
        check!(
            spec.as_pid_1 && !pid_ns,
            "Specifying --as-pid-1 requires --unshare-pid"
        );
        check!(
            spec.as_pid_1 && pid_ns && spec.pidns_fd.is_some(),
            "Specifying --as-pid-1 with --pidns and --unshare-pid is not supported"
        );
        check!(
            spec.as_pid_1 && !spec.lock_files.is_empty(),
            "Specifying --as-pid-1 and --lock-file is not permitted"
        );
        for (name, fd) in report_fds(spec) {
            let Some(fd) = fd else { continue };
            // bwrap's wording for the report fds (it fails writing to them).
            check!(
                host.closed_fds.contains(&fd),
                match name {
                    "--info-fd" | "--json-status-fd" =>
                        "Write to info_fd: Bad file descriptor".to_string(),
                    _ => format!("Invalid fd: {fd} (given to {name}): Bad file descriptor"),
                }
            );
        }
        let memfd_noexec = crate::landlock::exec_denied_where_writable(&spec.landlock.fs);
        let seccomp = match &host.inputs {
            Some(inputs) if strict => seccomp_programs(spec, inputs, memfd_noexec)?,
            _ => Vec::new(),
        };
        let cgroup_ns = match spec.ns.cgroup {
            _ if landlock_only => false,
            Unshare::Yes => true,
            Unshare::Try => host.cgroup_ns_available,
            Unshare::No => false,
        };
        // See src/stage/netns.rs for when the network namespace need not exist at clone.
        let net_beside = userns
            && spec.ns.net
            && !spec.net.user
            && spec.info_fd.is_none()
            && spec.json_status_fd.is_none()
            && spec.pidns_fd.is_none()
            && spec.userns_fd.is_none();
        let ns = Namespaces {
            user: userns,
            mnt: !landlock_only,
            pid: pid_ns,
            net: spec.ns.net,
            ipc: spec.ns.ipc,
            uts: spec.ns.uts,
            cgroup: cgroup_ns,
        };
        let mut clone_flags = 0;
        for (on, flag) in [
            (ns.mnt, libc::CLONE_NEWNS),
            (ns.user, libc::CLONE_NEWUSER),
            (ns.ipc, libc::CLONE_NEWIPC),
            // With --pidns the child enters that namespace (and makes the new one
            // inside it) itself, see `sandbox::enter_pidns`.
            (ns.pid && spec.pidns_fd.is_none(), libc::CLONE_NEWPID),
            (ns.net && !net_beside, libc::CLONE_NEWNET),
            (ns.uts, libc::CLONE_NEWUTS),
            (ns.cgroup, libc::CLONE_NEWCGROUP),
        ] {
            if on {
                clone_flags |= flag;
            }
        }
        let keep = if landlock_only {
            crate::landlock_only::keep_caps(spec, &host.caps_permitted)
        } else {
            keep_caps(spec, host, userns || joined)
        };
        let keep = match keep {
            Ok(keep) => keep,
            Err(e) if strict => return Err(e),
            Err(e) => {
                problems.caps = Some(e);
                HashSet::new()
            }
        };
        let caps = Caps {
            change: real_uid != 0 || userns || joined || !spec.caps.is_empty() || landlock_only,
            drop_bounding: userns
                || joined
                || (landlock_only && host.caps_effective.contains(&Capability::CAP_SETPCAP)),
            noroot: layout.sandbox.uid == 0 && !spec.caps.is_empty(),
            keep,
        };
        let metadata = if !landlock_only {
            Metadata::NotNeeded
        } else if spec.landlock_only_metadata_allow {
            Metadata::Allowed
        } else if !host.seccomp_notify {
            Metadata::Unsupported
        } else {
            let mask = caps.keep.iter().fold(0u64, |m, c| m | (1u64 << c.index()));
            Metadata::Supervised { caps: mask }
        };
        let memfd = if !memfd_noexec {
            Memfd::NotNeeded
        } else if clone_flags & libc::CLONE_NEWPID == 0 {
            Memfd::NoSysctl("no pid namespace of the sandbox's own".to_string())
        } else {
            Memfd::Sysctl(memfd_level(host.kernel))
        };
        let init = need_init(spec, pid_ns);
        let info = spec.info_fd.is_some() || spec.json_status_fd.is_some();
        // The child is made in the monitor's memory only when the monitor has nothing
        // to do until it execs, and the child nothing that shared memory forbids.
        // The monitor forks the network helper once the child exists (src/stage/netns.rs);
        // --net user, --allow-host/--allow-net (the relay takes the child's sockets),
        // --info-fd, --json-status-fd: the monitor acts while the child waits.
        let monitor_busy = net_beside || spec.net.user || spec.net.filtered() || info;
        let shared_child = !monitor_busy
            // --pidns: the child forks, and its parent exits at once.
            && spec.pidns_fd.is_none()
            // --userns2: setns(2) into a user namespace refuses a process sharing its memory.
            && spec.userns2_fd.is_none()
            // Signals to forward: pid 1 stays in our memory, and we in `clone`, until it exits.
            && !(spec.forward_signals && init);
        Ok(Plan {
            real_uid,
            landlock_only,
            ns,
            joined_userns: joined,
            layout,
            clone_flags,
            net_beside,
            old_cwd: host.cwd.clone(),
            seccomp,
            caps,
            landlock: landlock_plan(spec, host, landlock_only),
            memfd,
            metadata,
            init,
            default_nproc: spec.limits.default_nproc(
                userns,
                real_uid,
                crate::limits::nproc_counted_per_userns(host.kernel),
            ),
            shared_child,
            monitor_pidfd: spec.die_with_parent && pid_ns && spec.pidns_fd.is_none(),
            problems,
        })
    }

    /// The namespaces the sandbox gets, by name, in `--report`'s order.
    pub fn namespace_names(&self) -> Vec<&'static str> {
        let ns = &self.ns;
        [
            (ns.user, "user"),
            (ns.mnt, "mnt"),
            (ns.pid, "pid"),
            (ns.net, "net"),
            (ns.ipc, "ipc"),
            (ns.uts, "uts"),
            (ns.cgroup, "cgroup"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// The built-in policy first, then the caller's programs. Every fd was read (and its
/// length checked) before any program is validated, as bwrap reads them in turn.
fn seccomp_programs(spec: &Spec, inputs: &Inputs, memfd_noexec: bool) -> Result<Vec<Program>> {
    let file = inputs
        .policy_file
        .as_ref()
        .map(|r| r.as_ref().map(|v| v.as_slice()).map_err(|e| e.clone()));
    let mut seccomp = crate::seccomp_policy::programs(&spec.seccomp_policy, memfd_noexec, file)?;
    let mut raw = Vec::new();
    for data in &inputs.seccomp_fds {
        match data {
            Ok(data) => raw.push(data.clone()),
            Err(e) => return Err(e.clone()),
        }
    }
    for data in raw {
        seccomp.push(Program::from_bytes(data)?);
    }
    Ok(seccomp)
}

/// Apply the environment ops in order to a copy of our environment.
pub fn environment(ops: &[EnvOp]) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for op in ops {
        match op {
            EnvOp::Clear => env.clear(),
            EnvOp::Set(k, v) => {
                env.retain(|(key, _)| key != k);
                env.push((k.clone(), v.clone()));
            }
            EnvOp::Unset(k) => env.retain(|(key, _)| key != k),
        }
    }
    env
}

/// The value of `key` in `env`.
pub fn lookup<'a>(env: &'a [(OsString, OsString)], key: &str) -> Option<&'a OsStr> {
    env.iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_os_str())
}

/// The caller's working directory as glibc's `get_current_dir_name`, which bwrap uses:
/// `$PWD` (after the environment options, as bwrap edits its own environment while
/// parsing) when it names the current directory (same device and inode), so that a
/// directory reached through a symlink keeps that name; else the physical path.
/// bwrap looks after it has mounted its root tmpfs on /tmp, so a `$PWD` that leads
/// into /tmp names nothing then: the bwrap name takes the physical path there too.
fn logical_cwd(env: &[(OsString, OsString)], as_bwrap: bool) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let hidden_by_bwrap =
        |pwd: &OsStr| as_bwrap && std::fs::canonicalize(pwd).is_ok_and(|p| p.starts_with("/tmp"));
    if let Some(pwd) = lookup(env, "PWD").filter(|p| !hidden_by_bwrap(p)) {
        if let (Ok(dot), Ok(named)) = (std::fs::metadata("."), std::fs::metadata(pwd)) {
            if (dot.dev(), dot.ino()) == (named.dev(), named.ino()) {
                return Some(PathBuf::from(pwd));
            }
        }
    }
    std::env::current_dir().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Spec the command line gives (the front end is above the plan: tests only).
    fn spec(personality: Personality, args: &[&str]) -> Spec {
        let mut argv: Vec<OsString> = args.iter().map(OsString::from).collect();
        argv.push("true".into());
        match crate::cli::parse(personality, argv).unwrap().0 {
            crate::cli::Action::Run(s) => *s,
            _ => panic!(),
        }
    }

    fn hutch(args: &[&str]) -> Spec {
        spec(Personality::Hutch, args)
    }

    fn bwrap(args: &[&str]) -> Spec {
        spec(Personality::Bwrap, args)
    }

    fn root() -> Host {
        let all = ::caps::all();
        Host {
            uid: 0,
            gid: 0,
            caps_effective: all.clone(),
            caps_permitted: all,
            ..Host::fake()
        }
    }

    fn err(spec: &Spec, host: &Host) -> String {
        Plan::new(spec, host).unwrap_err().to_string()
    }

    #[test]
    fn unprivileged_gets_a_user_namespace() {
        let plan = Plan::new(&bwrap(&["--ro-bind", "/", "/"]), &Host::fake()).unwrap();
        assert!(plan.ns.user && plan.ns.mnt);
        assert!(!plan.ns.pid && !plan.ns.net && !plan.ns.cgroup);
        assert_eq!(plan.clone_flags, libc::CLONE_NEWUSER | libc::CLONE_NEWNS);
        assert_eq!(plan.namespace_names(), ["user", "mnt"]);
        assert_eq!(
            plan.layout.sandbox,
            userns::Ids {
                uid: 1000,
                gid: 1000
            }
        );
        assert!(!plan.layout.nested);
        // Nobody keeps a capability, and the bounding set goes with the namespace.
        assert!(plan.caps.change && plan.caps.keep.is_empty() && plan.caps.drop_bounding);
        assert!(!plan.init && plan.shared_child);
    }

    /// The monitor takes the relay's sockets from the child while it waits at the gate:
    /// the child cannot be made in the monitor's memory (a vfork would leave nobody to
    /// open the gate). As root under the bwrap name there is no user namespace, so the
    /// network namespace is made by clone, not beside.
    #[test]
    fn allow_host_keeps_the_monitor_free() {
        for (spec, host) in [
            (bwrap(&["--allow-host", "example.org"]), root()),
            (bwrap(&["--allow-net", "192.0.2.0/24"]), root()),
            (hutch(&["--allow-host", "example.org"]), Host::fake()),
        ] {
            let plan = Plan::new(&spec, &host).unwrap();
            assert!(plan.ns.net && !plan.shared_child, "{spec:?}");
        }
        let plan = Plan::new(&bwrap(&["--unshare-net"]), &root()).unwrap();
        assert!(plan.ns.net && plan.shared_child);
    }

    #[test]
    fn root_keeps_its_capabilities_without_a_user_namespace() {
        let plan = Plan::new(&bwrap(&["--ro-bind", "/", "/"]), &root()).unwrap();
        assert!(!plan.ns.user);
        assert_eq!(plan.clone_flags, libc::CLONE_NEWNS);
        assert!(
            !plan.caps.change,
            "bwrap leaves root's capabilities untouched"
        );
        // --cap-add of one root lacks, without a user namespace: refused.
        let host = Host {
            caps_permitted: HashSet::new(),
            ..root()
        };
        assert_eq!(
            err(&bwrap(&["--cap-add", "CAP_NET_ADMIN"]), &host),
            "Can't add capability CAP_NET_ADMIN: hutch does not hold it"
        );
        // With one, root keeps exactly what it asked for, as uid 0: SECBIT_NOROOT.
        let plan = Plan::new(
            &bwrap(&[
                "--unshare-user",
                "--cap-drop",
                "ALL",
                "--cap-add",
                "CAP_CHOWN",
            ]),
            &root(),
        )
        .unwrap();
        assert!(plan.ns.user && plan.caps.change && plan.caps.noroot);
        assert_eq!(
            plan.caps.keep,
            HashSet::from([Capability::CAP_CHOWN]),
            "{:?}",
            plan.caps.keep
        );
    }

    #[test]
    fn user_namespaces_that_cannot_be_made() {
        let no_userns = Host {
            userns_available: false,
            ..Host::fake()
        };
        // --unshare-user-try falls back to none (as root: nothing else implies one).
        let try_user = bwrap(&["--unshare-user-try"]);
        let host = Host {
            userns_available: false,
            ..root()
        };
        assert!(!Plan::new(&try_user, &host).unwrap().ns.user);
        assert!(Plan::new(&try_user, &root()).unwrap().ns.user);
        // Anyone else needs one regardless: the clone fails later, with the diagnosis.
        assert!(Plan::new(&bwrap(&[]), &no_userns).unwrap().ns.user);
        // --uid needs a user namespace.
        assert_eq!(
            err(&bwrap(&["--uid", "5"]), &root()),
            "Specifying --uid requires --unshare-user or --userns"
        );
    }

    #[test]
    fn devpts_and_disable_userns_nest() {
        let plan = Plan::new(&bwrap(&["--dev", "/dev"]), &Host::fake()).unwrap();
        assert!(plan.layout.nested);
        assert_eq!(plan.layout.ns, userns::Ids { uid: 0, gid: 0 });
        assert!(plan.layout.nested_maps().is_some());
        let plan = Plan::new(
            &bwrap(&["--dev", "/dev", "--uid", "0", "--gid", "0"]),
            &Host::fake(),
        )
        .unwrap();
        assert!(!plan.layout.nested);
        assert_eq!(
            err(&bwrap(&["--disable-userns"]), &Host::fake()),
            "--disable-userns requires --unshare-user"
        );
        let plan = Plan::new(
            &bwrap(&["--unshare-user", "--disable-userns"]),
            &Host::fake(),
        )
        .unwrap();
        assert!(plan.layout.nested);
    }

    #[test]
    fn checks_come_in_bwraps_order() {
        // Both wrong: the user namespace checks come before --hostname's.
        let s = bwrap(&["--userns-block-fd", "9", "--hostname", "h"]);
        assert_eq!(
            err(&s, &Host::fake()),
            "--userns-block-fd requires --unshare-user"
        );
        assert_eq!(
            err(&bwrap(&["--hostname", "h"]), &Host::fake()),
            "Specifying --hostname requires --unshare-uts"
        );
        assert_eq!(
            err(&bwrap(&["--as-pid-1"]), &Host::fake()),
            "Specifying --as-pid-1 requires --unshare-pid"
        );
        // A report fd that is not open, in bwrap's wording.
        let host = Host {
            closed_fds: vec![7],
            ..Host::fake()
        };
        assert_eq!(
            err(&bwrap(&["--info-fd", "7"]), &host),
            "Write to info_fd: Bad file descriptor"
        );
        assert_eq!(
            err(&bwrap(&["--sync-fd", "7"]), &host),
            "Invalid fd: 7 (given to --sync-fd): Bad file descriptor"
        );
        // A seccomp fd that could not be read, after the fd checks.
        let host = Host {
            inputs: Some(Inputs {
                policy_file: None,
                seccomp_fds: vec![Err(Error::msg(
                    "Can't read seccomp data: Bad file descriptor",
                ))],
            }),
            ..Host::fake()
        };
        assert_eq!(
            err(&bwrap(&["--seccomp", "8"]), &host),
            "Can't read seccomp data: Bad file descriptor"
        );
        // --explain sees the same decisions, and reads nothing.
        let plan = Plan::explain(&bwrap(&["--seccomp", "8"]), &host);
        assert!(plan.seccomp.is_empty() && plan.ns.user);
    }

    #[test]
    fn personalities() {
        let h = Plan::new(&hutch(&[]), &Host::fake()).unwrap();
        let b = Plan::new(&bwrap(&[]), &Host::fake()).unwrap();
        // hutch's own pid namespace, reaped by a pid 1; bwrap shares the caller's.
        assert!(h.ns.pid && h.init && h.clone_flags & libc::CLONE_NEWPID != 0);
        assert!(!b.ns.pid && !b.init);
        // hutch's built-in seccomp policy; bwrap has none.
        assert!(!h.seccomp.is_empty() && b.seccomp.is_empty());
        // hutch's default process bound, where it bounds the sandbox alone.
        assert_eq!(h.default_nproc, Ok(crate::limits::DEFAULT_NPROC));
        assert!(b.default_nproc.is_err());
        let old = Host {
            kernel: (5, 10),
            ..Host::fake()
        };
        assert!(Plan::new(&hutch(&[]), &old).unwrap().default_nproc.is_err());
        assert!(Plan::new(&hutch(&[]), &root())
            .unwrap()
            .default_nproc
            .is_err());
    }

    #[test]
    fn landlock_abi_2_and_7() {
        let args = ["--ro-bind", "/usr", "/usr", "--tmpfs", "/tmp"];
        let abi = |n| Host {
            landlock_abi: n,
            ..Host::fake()
        };
        let new = Plan::new(&hutch(&args), &abi(7)).unwrap();
        let old = Plan::new(&hutch(&args), &abi(2)).unwrap();
        // The same rules, derived from the mounts in order.
        assert_eq!(new.landlock.rules, old.landlock.rules);
        let paths: Vec<_> = new.landlock.rules.iter().map(|r| r.0.clone()).collect();
        assert!(paths.contains(&PathBuf::from("/usr")), "{paths:?}");
        // ABI 7 enforces everything hutch asks by default; ABI 2 lacks scoping.
        assert!(
            new.landlock.unsupported.is_empty(),
            "{:?}",
            new.landlock.unsupported
        );
        assert!(
            old.landlock
                .unsupported
                .iter()
                .any(|u| u.starts_with("scope:")),
            "{:?}",
            old.landlock.unsupported
        );
        // --landlock off: no rules.
        let off = Plan::new(&hutch(&["--landlock", "off"]), &abi(7)).unwrap();
        assert!(off.landlock.rules.is_empty() && off.landlock.unsupported.is_empty());
    }

    #[test]
    fn landlock_only_fallback() {
        let s = hutch(&["--landlock-only-fallback", "--ro-bind", "/", "/"]);
        // The namespaces could be made: an ordinary sandbox.
        let ok = Host {
            namespaces: Some(Ok(())),
            ..Host::fake()
        };
        let plan = Plan::new(&s, &ok).unwrap();
        assert!(!plan.landlock_only && plan.ns.user && plan.ns.pid);
        assert_eq!(landlock_only(&s, &ok), (false, None));
        // They could not: Landlock-only, hutch's default pid namespace dropped.
        let no = Host {
            namespaces: Some(Err("setting up uid map: Operation not permitted".into())),
            ..Host::fake()
        };
        let plan = Plan::new(&s, &no).unwrap();
        assert!(plan.landlock_only);
        assert_eq!(plan.namespace_names(), Vec::<&str>::new());
        assert_eq!(plan.clone_flags, 0);
        assert!(!plan.init);
        assert!(plan.caps.change && plan.caps.keep.is_empty() && !plan.caps.drop_bounding);
        assert_eq!(plan.metadata, Metadata::Supervised { caps: 0 });
        let (on, warning) = landlock_only(&s, &no);
        assert!(on && warning.unwrap().contains("(--landlock-only-fallback)"));
        // Without Landlock, Landlock-only mode cannot run; --explain shows why.
        let no_landlock = Host {
            landlock_abi: 0,
            ..no
        };
        assert!(err(&s, &no_landlock).starts_with("Landlock-only mode needs Landlock"));
        let explained = Plan::explain(&s, &no_landlock);
        assert!(explained.problems.landlock_only.is_some());
    }

    #[test]
    fn memfd_execution() {
        let args = ["--landlock-read", "/", "--landlock-write", "/tmp"];
        let plan = Plan::new(&hutch(&args), &Host::fake()).unwrap();
        assert_eq!(plan.memfd, Memfd::Sysctl(2));
        let old = Host {
            kernel: (6, 3),
            ..Host::fake()
        };
        assert_eq!(
            Plan::new(&hutch(&args), &old).unwrap().memfd,
            Memfd::Sysctl(1)
        );
        let shared = [&args[..], &["--share-pid"]].concat();
        assert!(matches!(
            Plan::new(&hutch(&shared), &Host::fake()).unwrap().memfd,
            Memfd::NoSysctl(_)
        ));
        assert_eq!(
            Plan::new(&hutch(&[]), &Host::fake()).unwrap().memfd,
            Memfd::NotNeeded
        );
    }
}
