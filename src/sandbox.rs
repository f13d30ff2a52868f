//! The orchestrator: the parent (monitor) half and the child half.
//!
//! ```text
//! parent: checks ─► clone(new namespaces) ─► --info-fd/--json-status-fd ─► wait for exec
//!         (an error pipe) ─► wait for the child ─► exit status
//! child:  id maps ─► --userns-block-fd ─► new root (ops in order, pivot) ─► hostname, lo
//!         ─► nested user ns ─► Landlock ─► caps ─► cwd, env ─► [pid 1 reaper forks the
//!         command] ─► --block-fd ─► --report ─► seccomp (last) ─► exec
//! ```

use std::ffi::{CString, OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use std::os::fd::AsFd;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use std::collections::HashSet;

use ::caps::Capability;

use crate::error::{Context, Error, Result};
use crate::fault::{self, Step};
use crate::mounts::{self, Root};
use crate::seccomp::Program;
use crate::spec::{EnvOp, Op, ReportTo, Spec, Unshare};
use crate::{caps, report, seccomp_policy, sockets, sys, userns};

/// Facts decided in the parent before cloning, shared with the child.
struct Plan {
    real_uid: u32,
    /// Landlock-only mode: no namespaces, no new root (src/landlock_only.rs).
    landlock_only: bool,
    /// A new user namespace is made.
    userns: bool,
    /// The ids of the sandbox and the maps that give them.
    layout: userns::Layout,
    cgroup_ns: bool,
    /// The namespaces `clone` makes.
    clone_flags: libc::c_int,
    /// The network namespace is made beside the child's setup, not by `clone`
    /// (src/netns.rs); the namespaces the sandbox gets are `clone_flags` and this.
    net_beside: bool,
    /// The cwd before anything changed, to keep it in the sandbox if it exists: the
    /// logical one, as bwrap's `get_current_dir_name` (see [`logical_cwd`]).
    old_cwd: Option<PathBuf>,
    /// Seccomp programs, read in the parent (so bad data fails before any setup).
    seccomp: Vec<Program>,
    /// The capabilities the command keeps.
    keep_caps: HashSet<Capability>,
    /// `--net user`: the child waits here until the network helper is ready.
    net_gate: crate::net::Gate,
    /// The Landlock rules forbid executing somewhere the command may write: memfd
    /// execution is refused too (see `memfd_noexec`).
    memfd_noexec: bool,
    /// `--host-sockets block`: a sock_diag socket in the caller's network namespace,
    /// on which the child lists the host's sockets (src/sockets.rs).
    host_diag: Option<OwnedFd>,
    /// `--forward-signals`: the signal mask before hutch blocked the forwarded
    /// signals, which the command and pid 1 get back (see `sys::forward_signals_to`).
    signal_mask: Option<nix::sys::signal::SigSet>,
    /// `--die-with-parent` in a new pid namespace: a pidfd of the monitor, on which the
    /// child sees whether the monitor died before the parent-death signal was set.
    monitor_pidfd: Option<RawFd>,
    /// Landlock-only mode: what supervises metadata changes (src/supervise.rs), and
    /// the rules it checks them against.
    metadata: Metadata,
}

/// Landlock-only mode's metadata changes (`--report`'s `metadata`).
enum Metadata {
    /// A namespace sandbox: read-only mounts refuse them.
    NotNeeded,
    /// `--landlock-only-metadata allow`.
    Allowed,
    /// The kernel has no seccomp user notification (before 5.0).
    Unsupported,
    Supervised(crate::supervise::Rules),
}

impl Metadata {
    fn status(&self) -> &'static str {
        match self {
            Metadata::NotNeeded => "not needed",
            Metadata::Allowed => "allowed",
            Metadata::Unsupported => "none",
            Metadata::Supervised(_) => "supervised",
        }
    }
}

/// Whether memfd execution must be refused: Landlock does not see memfds, so a
/// memfd would run code where the plan lets the command write but not execute.
fn memfd_noexec(spec: &Spec) -> bool {
    crate::landlock::exec_denied_where_writable(&spec.landlock.fs)
}

/// In the sandbox's own pid namespace (kernel 6.3+): `vm.memfd_noexec = 2`, so that
/// `memfd_create(MFD_EXEC)` fails and every other memfd is created non-executable and
/// sealed so (F_SEAL_EXEC). Before 6.6, 2 refused every memfd_create without
/// MFD_NOEXEC_SEAL, which breaks ordinary programs: there 1 (the sealed default only;
/// the seccomp policy refuses MFD_EXEC). The sysctl needs CAP_SYS_ADMIN over the
/// namespace, and its file is writable by real root only. `Ok(level)`, or why not.
fn set_memfd_noexec() -> std::result::Result<u8, String> {
    const PATH: &str = "/proc/sys/vm/memfd_noexec";
    let mut f = match std::fs::OpenOptions::new().write(true).open(PATH) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("no vm.memfd_noexec (kernel older than 6.3)".into())
        }
        Err(e) => {
            return Err(format!(
                "vm.memfd_noexec not writable: {} (only real root can set it)",
                crate::error::strerror(&e)
            ))
        }
    };
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let level: u8 = if crate::units::kernel_version(&release) >= (6, 6) {
        2
    } else {
        1
    };
    let read = || std::fs::read_to_string(PATH).map(|v| v.trim().parse::<u8>());
    // Inherited from the parent namespace, which may be stricter already.
    if let Ok(Ok(v)) = read() {
        if v >= level {
            return Ok(v);
        }
    }
    f.write_all(format!("{level}").as_bytes())
        .map_err(|e| format!("vm.memfd_noexec = {level}: {}", crate::error::strerror(&e)))?;
    match read() {
        Ok(Ok(v)) if v >= level => Ok(v),
        Ok(v) => Err(format!("vm.memfd_noexec reads {v:?} after writing {level}")),
        Err(e) => Err(format!("vm.memfd_noexec: {}", crate::error::strerror(&e))),
    }
}

/// The name under which messages are printed, and whether to add `<3>`.
pub struct Messages {
    pub name: &'static str,
    pub level_prefix: bool,
}

impl Messages {
    pub fn error(&self, msg: &str) {
        let p = if self.level_prefix { "<3>" } else { "" };
        eprintln!("{p}{}: {msg}", self.name);
    }
    pub fn warn(&self, msg: &str) {
        let p = if self.level_prefix { "<4>" } else { "" };
        eprintln!("{p}{}: {msg}", self.name);
    }
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

/// Whether the sandbox gets a new user namespace: asked for, or implied for
/// anyone but root (bwrap is never setuid here), unless one is joined with --userns.
pub fn makes_user_ns(spec: &Spec, real_uid: u32) -> bool {
    match spec.ns.user {
        Unshare::Yes => true,
        Unshare::Try => user_ns_available(),
        Unshare::No => real_uid != 0 && spec.userns_fd.is_none(),
    }
}

/// Whether a new user namespace is set up as uid 0 and the final ids mapped in a
/// nested one: devpts needs uid 0 mapped, and --disable-userns needs the nesting.
pub fn nested_user_ns(spec: &Spec, sandbox_uid: u32, sandbox_gid: u32) -> bool {
    spec.disable_userns || (spec.needs_devpts() && (sandbox_uid != 0 || sandbox_gid != 0))
}

fn cgroup_ns_available() -> bool {
    Path::new("/proc/self/ns/cgroup").exists()
}

/// Checks that need the environment, in bwrap's order, and the decisions that follow.
fn plan(spec: &Spec, landlock_only: bool) -> Result<Plan> {
    let real_uid = nix::unistd::getuid().as_raw();
    let real_gid = nix::unistd::getgid().as_raw();
    if landlock_only {
        crate::landlock_only::check(spec)?;
    }
    if spec.userns_block_fd.is_some() && spec.ns.user != Unshare::Yes {
        return Err(Error::msg("--userns-block-fd requires --unshare-user"));
    }
    if spec.userns_block_fd.is_some() && spec.info_fd.is_none() {
        return Err(Error::msg("--userns-block-fd requires --info-fd"));
    }
    if spec.userns_fd.is_some() && spec.ns.user == Unshare::Yes {
        return Err(Error::msg("--userns not compatible --unshare-user"));
    }
    if spec.userns_fd.is_some() && spec.ns.user == Unshare::Try {
        return Err(Error::msg("--userns not compatible --unshare-user-try"));
    }
    if spec.disable_userns && spec.ns.user != Unshare::Yes && !landlock_only {
        return Err(Error::msg("--disable-userns requires --unshare-user"));
    }
    if let Some(label) = spec.exec_label.as_ref().or(spec.file_label.as_ref()) {
        let _ = label;
        return Err(Error::msg("labeling not supported on this system"));
    }
    // Not root: a user namespace is implied (bwrap is never setuid here),
    // unless the caller gives one to join with --userns.
    let userns = !landlock_only && makes_user_ns(spec, real_uid);
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
    if sandbox_uid != real_uid && !userns && !joined {
        return Err(Error::msg(
            "Specifying --uid requires --unshare-user or --userns",
        ));
    }
    if sandbox_gid != real_gid && !userns && !joined {
        return Err(Error::msg(
            "Specifying --gid requires --unshare-user or --userns",
        ));
    }
    if spec.hostname.is_some() && !spec.ns.uts {
        return Err(Error::msg("Specifying --hostname requires --unshare-uts"));
    }
    if spec.as_pid_1 && !spec.ns.pid {
        return Err(Error::msg("Specifying --as-pid-1 requires --unshare-pid"));
    }
    if spec.as_pid_1 && spec.ns.pid && spec.pidns_fd.is_some() {
        return Err(Error::msg(
            "Specifying --as-pid-1 with --pidns and --unshare-pid is not supported",
        ));
    }
    if spec.as_pid_1 && !spec.lock_files.is_empty() {
        return Err(Error::msg(
            "Specifying --as-pid-1 and --lock-file is not permitted",
        ));
    }
    for (name, fd) in [
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
    ] {
        if let Some(fd) = fd {
            if !sys::fd_is_open(fd) {
                // bwrap's wording for the report fds (it fails writing to them).
                return Err(Error::msg(match name {
                    "--info-fd" | "--json-status-fd" => {
                        "Write to info_fd: Bad file descriptor".to_string()
                    }
                    _ => format!("Invalid fd: {fd} (given to {name}): Bad file descriptor"),
                }));
            }
        }
    }
    // The built-in policy first, then the caller's programs (whose errno wins a tie).
    let mut seccomp = seccomp_policy::programs(&spec.seccomp_policy, memfd_noexec(spec))?;
    // Every fd is read (and its length checked) before any program is validated, as
    // bwrap reads them in turn: the same fd named twice fails on the second read.
    let raw = (spec.seccomp.replace.iter().chain(spec.seccomp.add.iter()))
        .map(|fd| Program::read_raw(*fd))
        .collect::<Result<Vec<_>>>()?;
    for data in raw {
        seccomp.push(Program::from_bytes(data)?);
    }
    let cgroup_ns = match spec.ns.cgroup {
        _ if landlock_only => false,
        Unshare::Yes => true,
        Unshare::Try => cgroup_ns_available(),
        Unshare::No => false,
    };
    // See src/netns.rs for when the network namespace need not exist at clone.
    let net_beside = userns
        && spec.ns.net
        && !spec.net.user
        && spec.info_fd.is_none()
        && spec.json_status_fd.is_none()
        && spec.pidns_fd.is_none()
        && spec.userns_fd.is_none();
    let mut clone_flags = if landlock_only { 0 } else { libc::CLONE_NEWNS };
    for (on, flag) in [
        (userns, libc::CLONE_NEWUSER),
        (spec.ns.ipc, libc::CLONE_NEWIPC),
        // With --pidns the child enters that namespace (and makes the new one
        // inside it) itself, see `enter_pidns`.
        (spec.ns.pid && spec.pidns_fd.is_none(), libc::CLONE_NEWPID),
        (spec.ns.net && !net_beside, libc::CLONE_NEWNET),
        (spec.ns.uts, libc::CLONE_NEWUTS),
        (cgroup_ns, libc::CLONE_NEWCGROUP),
    ] {
        if on {
            clone_flags |= flag;
        }
    }
    let keep_caps = if landlock_only {
        crate::landlock_only::keep_caps(spec)?
    } else {
        keep_caps(spec, real_uid == 0, userns || joined)?
    };
    let metadata = if !landlock_only {
        Metadata::NotNeeded
    } else if spec.landlock_only_metadata_allow {
        Metadata::Allowed
    } else if !crate::supervise::available() {
        Metadata::Unsupported
    } else {
        let mask = keep_caps.iter().fold(0u64, |m, c| m | (1u64 << c.index()));
        Metadata::Supervised(crate::supervise::rules(spec, mask))
    };
    Ok(Plan {
        real_uid,
        landlock_only,
        userns,
        layout,
        cgroup_ns,
        clone_flags,
        net_beside,
        old_cwd: logical_cwd(
            &environment(&spec.env),
            spec.personality == crate::spec::Personality::Bwrap,
        ),
        seccomp,
        // Real root starts from its own effective set (read before a new user
        // namespace grants a full one), anyone else from nothing.
        keep_caps,
        net_gate: crate::net::Gate::new(
            &spec.net,
            spec.info_fd.is_some() || spec.json_status_fd.is_some(),
        )?,
        memfd_noexec: memfd_noexec(spec),
        host_diag: match spec.host_sockets.block && !landlock_only {
            true => sockets::diag_socket(),
            false => None,
        },
        signal_mask: None,
        monitor_pidfd: None,
        metadata,
    })
}

/// The capabilities the command keeps. Real root starts from its own effective
/// set (read before a new user namespace grants a full one), anyone else from
/// nothing. Without a new user namespace, root can only keep what it has: there
/// `ALL` means its permitted set, and naming a capability it lacks is an error.
pub fn keep_caps(spec: &Spec, real_root: bool, new_userns: bool) -> Result<HashSet<Capability>> {
    let initial = if real_root {
        caps::current_effective()
    } else {
        HashSet::new()
    };
    if real_root && !new_userns {
        let permitted = caps::current_permitted();
        for op in &spec.caps {
            if let crate::spec::CapOp::Add(crate::spec::CapSet::One(c)) = op {
                if !permitted.contains(c) {
                    return Err(Error::msg(format!(
                        "Can't add capability {c}: hutch does not hold it"
                    )));
                }
            }
        }
        return Ok(caps::requested(&spec.caps, initial, permitted));
    }
    Ok(caps::requested(&spec.caps, initial, caps::supported()))
}

/// Explain a failed clone in terms a user can act on (src/diagnose.rs).
fn clone_error(err: std::io::Error, userns: bool) -> Error {
    crate::diagnose::clone_failed(err, userns, &crate::diagnose::Host::real())
}

/// Run the sandbox; returns the exit status for hutch.
pub fn run(spec: &Spec, msgs: &Messages) -> Result<i32> {
    // Before hutch opens anything: which of the fds the ops name were never open.
    sys::note_closed_fds(spec.ops.iter().filter_map(|op| match op {
        Op::File { fd, .. } | Op::BindData { fd, .. } | Op::BindFd { fd, .. } => Some(*fd),
        _ => None,
    }));
    // --landlock-only(-fallback): no namespaces, or only where they cannot be made.
    let landlock_only = crate::landlock_only::decide(spec, |m| msgs.warn(m));
    // Landlock-only mode has no pid namespace: hutch's default one is dropped.
    let without_pid;
    let spec = if landlock_only && spec.ns.pid_default {
        let mut s = spec.clone();
        (s.ns.pid, s.ns.pid_default) = (false, false);
        without_pid = s;
        &without_pid
    } else {
        spec
    };
    let mut plan = plan(spec, landlock_only)?;
    if landlock_only {
        if let Some(w) = crate::landlock_only::config_warning(spec) {
            msgs.warn(&w);
        }
    }
    // --forward-signals: from before the cgroup is made until hutch can pass them on,
    // the signals wait (a SIGTERM now must not leave a cgroup behind).
    if spec.forward_signals {
        plan.signal_mask = Some(sys::block_forwarded_signals());
    }
    let monitor_pidfd = match spec.die_with_parent && spec.ns.pid && spec.pidns_fd.is_none() {
        true => sys::pidfd_open(nix::unistd::getpid().as_raw()).ok(),
        false => None,
    };
    plan.monitor_pidfd = monitor_pidfd.as_ref().map(|fd| fd.as_raw_fd());
    if spec.die_with_parent {
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).ctx(|| "prctl".into())?;
    }
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
    let monitor = nix::unistd::getpid();
    // Limits: the clock starts and the cgroup is made before the child, born in it.
    let mut limits = crate::limits::Guard::start(spec, msgs)?;
    if let Some(fd) = spec.userns_fd {
        join(fd, nix::sched::CloneFlags::CLONE_NEWUSER).map_err(|e| {
            if e == nix::errno::Errno::EINVAL {
                Error::msg("Joining the specified user namespace failed, it might not be a descendant of the current user namespace.")
            } else {
                Error::io("Joining specified user namespace failed", e.into())
            }
        })?;
    }
    // --pidns: the child's pid is only known once it has entered the namespace;
    // it sends it with SCM_CREDENTIALS, which the kernel translates into ours.
    let mut pid_channel = match spec.pidns_fd {
        Some(_) => Some(pidns_channel()?),
        None => None,
    };
    let mut beside = match plan.net_beside {
        true => Some(crate::netns::Beside::new()?),
        false => None,
    };
    // Landlock-only mode's metadata supervisor: the command sends its listener here.
    let meta_sock = match plan.metadata {
        Metadata::Supervised(_) => Some(
            nix::sys::socket::socketpair(
                nix::sys::socket::AddressFamily::Unix,
                nix::sys::socket::SockType::SeqPacket,
                None,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            )
            .ctx(|| "socketpair".into())?,
        ),
        _ => None,
    };
    let meta_theirs = meta_sock.as_ref().map(|(_, t)| t.as_raw_fd());
    fault::hit(Step::Clone)?;
    let pid = if shared_child_ok(spec, &plan, &limits) {
        // In our memory while we wait (src/sys.rs): nothing of ours is taken.
        let (err_r, err_w) = (err_r.as_raw_fd(), err_w.as_raw_fd());
        sys::clone_shared(plan.clone_flags, &mut || {
            // The descriptor table is the child's own copy.
            let _ = nix::unistd::close(err_r);
            report_failure(child(spec, &plan, monitor, None, None, meta_theirs), err_w)
        })
        .map_err(|e| clone_error(e, plan.userns))?
    } else {
        let pid = limits
            .clone_child(plan.clone_flags)
            .map_err(|e| clone_error(e, plan.userns))?;
        if pid == 0 {
            drop(err_r);
            let result = match (spec.pidns_fd, pid_channel.take()) {
                (Some(fd), Some((_, theirs))) => enter_pidns(fd, spec.ns.pid, theirs)
                    .and_then(|sock| child(spec, &plan, monitor, Some(sock), None, meta_theirs)),
                _ => child(
                    spec,
                    &plan,
                    monitor,
                    None,
                    beside.take().map(|b| b.into_child_end()),
                    meta_theirs,
                ),
            };
            report_failure(result, err_w.as_raw_fd());
        }
        pid
    };
    drop(err_w);
    // The child has listed the host's sockets, or has its own copy (forked): the
    // sock_diag socket is not kept, nor inherited by the helpers forked below.
    plan.host_diag = None;
    drop(monitor_pidfd);
    // Before anything else: the child is already building the root.
    let beside = beside.and_then(|b| b.spawn(pid));
    // --timeout: from here on a watchdog may end the sandbox.
    limits.watch(pid, msgs);
    let mut pid = pid;
    let mut status_sock = None;
    if let Some((ours, theirs)) = pid_channel {
        drop(theirs);
        let real = receive_pid(&ours);
        // The intermediate processes exit at once; the sandbox is reparented to us.
        let _ = wait_exit_code(Pid::from_raw(pid));
        if spec.ns.pid {
            status_sock = Some(ours);
        }
        match real {
            Some(real) => pid = real,
            None => {
                let mut message = Vec::new();
                let _ = std::fs::File::from(err_r).read_to_end(&mut message);
                msgs.error(&String::from_utf8_lossy(&message));
                return Ok(1);
            }
        }
    }
    let child = Pid::from_raw(pid);
    // --allow-host/--allow-net: the report gets one more line at the end, what was refused.
    let net_report = crate::allow::ReportTail::keep(&spec.net, spec.report);
    close_report_fd(spec);
    // From here on signals are passed on to the child: pid 1 or the command.
    if let Some(mask) = &plan.signal_mask {
        sys::forward_signals_to(pid, mask, true);
    }

    // Report the namespaces before setup starts, as bwrap does.
    let ids = if !plan.landlock_only && (spec.info_fd.is_some() || spec.json_status_fd.is_some()) {
        report::namespace_ids(pid, spec, plan.cgroup_ns)
    } else {
        Vec::new()
    };
    if let Some(fd) = spec.info_fd {
        let mut f = std::fs::File::from(sys::own_fd(fd));
        f.write_all(report::info_json(pid, &ids).as_bytes())
            .ctx(|| "Write to info_fd".into())?;
    }
    let mut status_fd = spec
        .json_status_fd
        .map(|fd| std::fs::File::from(sys::own_fd(fd)));
    if let Some(f) = status_fd.as_mut() {
        f.write_all(report::status_json(pid, &ids).as_bytes())
            .ctx(|| "Write to json_status_fd".into())?;
    }

    // --net user: the helper enters the namespaces (made by clone) while the child sets
    // up, then opens the child's gate (see net.rs). If it fails, the child is killed at
    // the gate: the command never runs.
    let net = crate::net::attach(&spec.net, pid, &plan.net_gate);
    if net.is_err() {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
    } else {
        // The namespace ids above were read while the child waited at the gate,
        // so they are complete even for a command that ends at once.
        plan.net_gate.open()?;
    }

    // The metadata supervisor: a thread of ours answers the command's calls.
    if let (Some((ours, theirs)), Metadata::Supervised(rules)) = (meta_sock, &plan.metadata) {
        drop(theirs);
        if let Some(listener) = crate::supervise::receive(&ours) {
            crate::supervise::spawn(listener, rules.clone());
        }
    }

    // The error pipe reaches end-of-file at exec (close-on-exec) or on failure.
    let mut message = Vec::new();
    let _ = std::fs::File::from(err_r).read_to_end(&mut message);
    if let Some(helper) = beside {
        let _ = wait_exit_code(Pid::from_raw(helper));
    }
    let code = match &status_sock {
        Some(sock) => receive_status(sock, child),
        None if spec.pidns_fd.is_some() => wait_adopted(child),
        None => wait_exit_code(child),
    };
    sys::stop_forwarding();
    // The helper ends with the sandbox (dropping it kills it), or says why it never started.
    match net {
        Ok(helper) => drop(helper),
        Err(e) if message.is_empty() => {
            msgs.error(&e.to_string());
            return Ok(limits.finish(1, msgs));
        }
        Err(_) => {}
    }
    if !message.is_empty() {
        msgs.error(&String::from_utf8_lossy(&message));
        return Ok(limits.finish(1, msgs));
    }
    // The cgroup ends, --stats is written; 124 if --timeout ended the sandbox.
    let code = limits.finish(code, msgs);
    net_report.write();
    if let Some(f) = status_fd.as_mut() {
        let _ = f.write_all(report::exit_json(code).as_bytes());
    }
    Ok(code)
}

/// In the child: the setup failed (it never returns otherwise). The message goes to
/// the monitor on the error pipe, and the child exits.
fn report_failure(result: Result<std::convert::Infallible>, err_w: RawFd) -> ! {
    let msg = match result {
        Ok(never) => match never {},
        Err(e) => e.to_string(),
    };
    // Written, not owned: with `clone_shared` the descriptor object is the monitor's.
    let mut w = std::mem::ManuallyDrop::new(std::fs::File::from(sys::own_fd(err_w)));
    let _ = w.write_all(msg.as_bytes());
    sys::exit_now(1);
}

/// Whether the child may be made by `sys::clone_shared`, in the monitor's memory
/// while the monitor waits, rather than forked: only when the monitor has nothing
/// to do until the child execs, and the child nothing that shared memory forbids.
fn shared_child_ok(spec: &Spec, plan: &Plan, limits: &crate::limits::Guard) -> bool {
    // The monitor forks the network helper once the child exists (src/netns.rs).
    !plan.net_beside
        // --net user, --info-fd, --json-status-fd: the monitor acts while the child waits.
        && !plan.net_gate.in_use()
        // --pidns: the child forks, and its parent exits at once.
        && spec.pidns_fd.is_none()
        // --userns2: setns(2) into a user namespace refuses a process sharing its memory.
        && spec.userns2_fd.is_none()
        // A cgroup (clone3 into it) or the --timeout watchdog, which must run meanwhile.
        && limits.plain()
        // Signals to forward: pid 1 stays in our memory, and we in `clone`, until it exits.
        && !(plan.signal_mask.is_some() && need_init(spec))
}

/// Whether a pid 1 reaps everything while the command runs as pid 2.
fn need_init(spec: &Spec) -> bool {
    !spec.as_pid_1 && (spec.ns.pid || !spec.lock_files.is_empty() || spec.sync_fd.is_some())
}

/// A socket pair on which the sandbox sends its pid as credentials; we become
/// a subreaper so that the sandbox, orphaned by its short-lived parents, is ours.
fn pidns_channel() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{setsockopt, socketpair, sockopt, AddressFamily, SockFlag, SockType};
    nix::sys::prctl::set_child_subreaper(true).ctx(|| "prctl(PR_SET_CHILD_SUBREAPER)".into())?;
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "Can't create intermediate pids socket".into())?;
    setsockopt(&ours, sockopt::PassCred, &true).ctx(|| "Can't set SO_PASSCRED".into())?;
    Ok((ours, theirs))
}

/// The pid the sandbox sent, in our pid namespace; `None` if it died first.
fn receive_pid(sock: &OwnedFd) -> Option<i32> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!(nix::sys::socket::UnixCredentials);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .ok()?;
    let mut cmsgs = msg.cmsgs().ok()?;
    cmsgs.find_map(|c| match c {
        ControlMessageOwned::ScmCredentials(cred) => Some(cred.pid()),
        _ => None,
    })
}

/// `--pidns FD`: enter that pid namespace (and, with --unshare-pid, a new one
/// inside it). Entering only affects children, hence the forks; the process
/// that returns is the sandbox, and it tells the monitor its pid.
///
/// The socket is kept: pid 1 of a new namespace made inside the joined one is
/// adopted by that namespace's init, not by us, so it sends the command's exit
/// status on it instead (bwrap uses an eventfd for the same reason).
fn enter_pidns(fd: RawFd, unshare_pid: bool, sock: OwnedFd) -> Result<OwnedFd> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixCredentials};
    join(fd, nix::sched::CloneFlags::CLONE_NEWPID).ctx(|| "Setting pidns failed".into())?;
    if sys::fork().ctx(|| "Can't fork for --pidns".into())? != 0 {
        sys::exit_now(0);
    }
    if unshare_pid {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWPID)
            .ctx(|| "unshare pid ns".into())?;
        if sys::fork().ctx(|| "Can't fork for --pidns".into())? != 0 {
            sys::exit_now(0);
        }
    }
    let creds = UnixCredentials::new();
    let iov = [std::io::IoSlice::new(b"p")];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmCredentials(&creds)],
        MsgFlags::empty(),
        None,
    )
    .ctx(|| "Can't send the sandbox pid".into())?;
    Ok(sock)
}

/// `setns(2)` into the namespace behind an inherited fd, which is then closed.
fn join(fd: RawFd, kind: nix::sched::CloneFlags) -> nix::Result<()> {
    if !sys::fd_is_open(fd) {
        return Err(nix::errno::Errno::EBADF);
    }
    let owned = sys::own_fd(fd);
    nix::sched::setns(&owned, kind)
}

/// Wait for `pid` and turn its end into a shell-style status.
fn wait_exit_code(pid: Pid) -> i32 {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 1,
        }
    }
}

/// The exit status that pid 1 sent (see `enter_pidns`); 1 if it died first.
fn receive_status(sock: &OwnedFd, init: Pid) -> i32 {
    let mut buf = [0u8; 4];
    let code = match nix::sys::socket::recv(
        sock.as_raw_fd(),
        &mut buf,
        nix::sys::socket::MsgFlags::empty(),
    ) {
        Ok(4) => i32::from_le_bytes(buf),
        _ => 1,
    };
    // Reap the intermediate processes that were reparented to us.
    while let Ok(status) = waitpid(
        Pid::from_raw(-1),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    ) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
    let _ = init;
    code
}

/// As a subreaper (--pidns), `pid` may become our child only once the processes
/// between us have exited: reap whatever ends until `pid` does.
fn wait_adopted(pid: Pid) -> i32 {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(p, code)) if p == pid => return code,
            Ok(WaitStatus::Signaled(p, sig, _)) if p == pid => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 1,
        }
    }
}

/// The child half: never returns on success (it execs).
fn child(
    spec: &Spec,
    plan: &Plan,
    monitor: Pid,
    status_sock: Option<OwnedFd>,
    mut net_beside: Option<OwnedFd>,
    meta_sock: Option<RawFd>,
) -> Result<std::convert::Infallible> {
    if spec.die_with_parent {
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).ctx(|| "prctl".into())?;
        // The monitor may have died before the line above. (In a new pid
        // namespace the parent is outside it and getppid() is always 0.)
        if !spec.ns.pid && spec.pidns_fd.is_none() && nix::unistd::getppid() != monitor {
            sys::exit_now(1);
        }
    }
    // There, the monitor's pidfd tells.
    if let Some(fd) = plan.monitor_pidfd {
        let gone = sys::pidfd_exited(fd);
        let _ = nix::unistd::close(fd);
        if gone {
            sys::exit_now(1);
        }
    }
    // Our copies of the report fds belong to the monitor.
    for fd in [spec.info_fd, spec.json_status_fd].into_iter().flatten() {
        let _ = nix::unistd::close(fd);
    }

    // Build the root with umask 0, as bwrap does: modes are exactly what was
    // asked for. The command gets the caller's umask back.
    let umask = nix::sys::stat::umask(Mode::empty());

    // 1. Identity: map the caller into the new user namespace. The /proc/<pid>
    // descriptor outlives the pivot, for the nested namespace's maps.
    let proc_self = nix::fcntl::open(
        "/proc/self",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "Can't open /proc/self".into())?;
    if plan.userns {
        fault::hit(Step::UidMap)?;
        userns::write_maps(proc_self.as_fd(), &plan.layout.outer_maps())
            .ctx(|| "setting up uid map".into())
            .map_err(|e| crate::diagnose::in_setup(spec, e, false))?;
    }
    if let Some(fd) = spec.userns_block_fd {
        let mut b = [0u8; 1];
        let _ = std::fs::File::from(sys::own_fd(fd)).read(&mut b);
    }
    // 1b. No executable memfds where the plan forbids executing some writable place:
    // the sysctl of our new pid namespace (we are its pid 1), through the host's
    // /proc before the new root hides it, while we hold capabilities. The seccomp
    // policy refuses what it can see of the rest (src/seccomp_policy.rs).
    let memfd_sysctl = if !plan.memfd_noexec {
        None
    } else if plan.clone_flags & libc::CLONE_NEWPID == 0 {
        Some(Err("no pid namespace of the sandbox's own".to_string()))
    } else {
        Some(set_memfd_noexec())
    };

    let max_userns = if spec.disable_userns && !plan.landlock_only {
        Some(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/proc/sys/user/max_user_namespaces")
                .ctx(|| "cannot open /proc/sys/user/max_user_namespaces".into())?,
        )
    } else {
        None
    };

    // 2. The new root: sources resolved on the host first, then every op in order.
    // (src/diagnose.rs adds the cause to a refused source, first mount or procfs.)
    // Landlock-only mode has none: the ops become Landlock rules (4b).
    let mut host_sockets = None;
    if !plan.landlock_only {
        let sources = mounts::resolve_sources(&spec.ops)
            .map_err(|e| crate::diagnose::in_sources(spec, e, plan.real_uid))?;
        // --host-sockets block: the host's sockets, read while the host is in view
        // (the monitor is still in the caller's network namespace).
        let listed = match spec.host_sockets.block {
            true => Some(sockets::read_host(
                plan.host_diag.as_ref().map(|fd| fd.as_fd()),
                monitor.as_raw(),
            )?),
            false => None,
        };
        // Not kept for pid 1: the socket is in the host's network namespace.
        if let Some(fd) = &plan.host_diag {
            let _ = nix::unistd::close(fd.as_raw_fd());
        }
        // A bind from /proc reads the binder's network namespace (/proc/self/net).
        if sources_in_proc(&spec.ops, &sources) {
            if let Some(sock) = net_beside.take() {
                crate::netns::enter(sock)?;
            }
        }
        let host_ops: Vec<_> = spec.ops.iter().map(mounts::overlay_on_host).collect();
        let config = mounts::config_views(&spec.config_dirs, &spec.ops, &sources);
        fault::hit(Step::RootPrepare)?;
        let mut root = Root::prepare(spec.limits.tmpfs_size)
            .map_err(|e| crate::diagnose::in_setup(spec, e, true))?;
        for ((op, host_op), src) in spec.ops.iter().zip(&host_ops).zip(&sources) {
            root.apply(
                host_op,
                src.as_deref(),
                spec.ns.pid || spec.pidns_fd.is_some(),
            )
            .map_err(|e| crate::diagnose::in_op(spec, op, e))?;
        }
        // --net user: an internal last op, /etc/resolv.conf naming the helper's DNS forwarder.
        let in_pid_ns = spec.ns.pid || spec.pidns_fd.is_some();
        crate::net::place_resolv_conf(&spec.net, &spec.ops, &mut root, in_pid_ns)?;
        // Under the hutch name: hutch's own configuration read-only, after every op.
        root.protect_config(&config)?;
        // Last, over everything the ops made: the host's sockets that are still in view.
        if let Some(listed) = listed {
            let binds = sockets::binds(&spec.ops, &sources);
            host_sockets = Some(sockets::mask(
                &mut root,
                &listed,
                &binds,
                &spec.host_sockets.allow,
            )?);
        }
        fault::hit(Step::PivotRoot)?;
        root.finish()?;
    }

    // The network namespace, before anything can use it (src/netns.rs).
    if let Some(sock) = net_beside.take() {
        crate::netns::enter(sock)?;
    }
    // After setup, switch to the user namespace given with --userns2.
    if let Some(fd) = spec.userns2_fd {
        join(fd, nix::sched::CloneFlags::CLONE_NEWUSER).ctx(|| "Setting userns2 failed".into())?;
    }
    // In a joined namespace nobody wrote a map for us: switch ids if asked.
    if spec.userns_fd.is_some() {
        if let Some(gid) = spec.gid {
            let g = nix::unistd::Gid::from_raw(gid);
            nix::unistd::setresgid(g, g, g).ctx(|| format!("unable to switch to gid {gid}"))?;
        }
        if let Some(uid) = spec.uid {
            let u = nix::unistd::Uid::from_raw(uid);
            nix::unistd::setresuid(u, u, u).ctx(|| format!("unable to switch to uid {uid}"))?;
        }
    }

    // 3. Host name and loopback, while we still hold capabilities.
    if let Some(name) = &spec.hostname {
        fault::hit(Step::Hostname)?;
        nix::unistd::sethostname(name)
            .ctx(|| format!("Can't set hostname to {}", name.to_string_lossy()))?;
    }
    if spec.ns.net && !plan.net_beside {
        fault::hit(Step::Loopback)?;
        sys::loopback_up().ctx(|| "Failed to bring up loopback".into())?;
    }
    // --allow-host/--allow-net: routes and sockets for the monitor's relay (src/allow.rs).
    crate::net::allow_child(
        &spec.net,
        &plan.net_gate,
        spec.ns.net && !plan.landlock_only,
    )?;

    // 4. Final identity: a nested user namespace mapping the sandbox ids onto ours.
    // With --disable-userns the outer namespace allows one namespace below it,
    // the nested one, so none can be made inside the sandbox.
    if let Some(mut limit) = max_userns {
        limit
            .write_all(b"1")
            .ctx(|| "sysctl user.max_user_namespaces = 1".into())?;
    }
    if let Some(maps) = plan.layout.nested_maps() {
        fault::hit(Step::NestedUserns)?;
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
            .ctx(|| "unshare user ns".into())?;
        userns::write_maps(proc_self.as_fd(), &maps).ctx(|| "setting up uid map".into())?;
    }
    drop(proc_self);
    // (In Landlock-only mode the seccomp policy, installed last, refuses them.)
    if (spec.disable_userns || spec.assert_userns_disabled)
        && !plan.landlock_only
        && nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).is_ok()
    {
        return Err(Error::msg(
            "creation of new user namespaces was not disabled as requested",
        ));
    }

    // 4b. Landlock: after the mount plan, paths are the sandbox's own, and before the
    // capabilities go. It needs no privilege, only no_new_privs (set here, as bwrap
    // sets it anyway before exec). pid 1, forked below, is inside the domain too.
    nix::sys::prctl::set_no_new_privs().ctx(|| "prctl(PR_SET_NO_NEW_PRIVS) failed".into())?;
    fault::hit(Step::Landlock)?;
    let landlock = crate::landlock::apply(&spec.landlock, &spec.ops, plan.landlock_only)?;

    // 5. Capabilities, as bwrap: real root without a new user namespace and
    // without --cap-add/--cap-drop keeps everything untouched. In Landlock-only
    // mode nobody keeps any but those added (root's bounding set goes too).
    if plan.real_uid != 0
        || plan.userns
        || spec.userns_fd.is_some()
        || !spec.caps.is_empty()
        || plan.landlock_only
    {
        if plan.layout.sandbox.uid == 0 && !spec.caps.is_empty() {
            // uid 0 would regain its bounding set at exec: only ambient caps may pass.
            sys::set_securebits(sys::SECBIT_NOROOT | sys::SECBIT_NOROOT_LOCKED)
                .ctx(|| "Can't set securebits".into())?;
        }
        fault::hit(Step::Caps)?;
        caps::apply(
            &plan.keep_caps,
            plan.userns
                || spec.userns_fd.is_some()
                || (plan.landlock_only && crate::landlock_only::can_drop_bounding()),
            !spec.caps.is_empty(),
        )?;
    }

    // 6. The process: umask, cwd, environment, session.
    nix::sys::stat::umask(umask);
    let env = environment(&spec.env);
    fault::hit(Step::Chdir)?;
    let cwd = working_dir(spec, plan, &env)?;
    let mut env = env;
    // setenv(3): replaced in place, else appended.
    match env.iter_mut().find(|(k, _)| k == "PWD") {
        Some((_, v)) => *v = cwd.clone().into_os_string(),
        None => env.push(("PWD".into(), cwd.clone().into_os_string())),
    }

    // 7a. --net user: wait for the network helper. Here, not earlier, so that its start
    // overlaps the setup above (it needs only the namespaces, made by clone); before
    // the fork, so that one process waits and neither pid 1 nor the command exist
    // without the network.
    plan.net_gate.wait()?;

    // bwrap calls setsid before it forks its pid 1: pid 1 leads the new session and
    // the command, in it, does not (it cannot take a controlling terminal by opening one).
    if spec.new_session {
        nix::unistd::setsid().ctx(|| "setsid".into())?;
    }

    // 7. pid 1: reap everything while the command runs as pid 2.
    if need_init(spec) {
        // As hutch, pid 1 is not dumpable: the command (same user, same user namespace,
        // same Landlock domain) cannot ptrace it or read its /proc/1/mem, environ, fd,
        // exe. The command, forked below, becomes dumpable again at exec. (bwrap's pid
        // 1 is dumpable: the bwrap name keeps that.)
        if spec.personality == crate::spec::Personality::Hutch {
            nix::sys::prctl::set_dumpable(false).ctx(|| "prctl(PR_SET_DUMPABLE)".into())?;
        }
        fault::hit(Step::Fork)?;
        let pid = sys::fork().ctx(|| "fork".into())?;
        if pid != 0 {
            close_report_fd(spec);
            // Only the command sends the listener: the monitor sees end-of-file
            // if it fails before.
            if let Some(sock) = meta_sock {
                let _ = nix::unistd::close(sock);
            }
            crate::init::run(
                Pid::from_raw(pid),
                spec,
                &plan.seccomp,
                status_sock,
                plan.signal_mask.as_ref(),
            );
        }
        // The command: the sync fd stays with pid 1.
        if let Some(fd) = spec.sync_fd {
            let _ = nix::unistd::close(fd);
        }
    }
    if spec.die_with_parent {
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).ctx(|| "prctl".into())?;
    }
    nix::sys::prctl::set_no_new_privs().ctx(|| "prctl(PR_SET_NO_NEW_PRIVS) failed".into())?;
    if let Some(fd) = spec.block_fd {
        let mut b = [0u8; 1];
        let _ = std::fs::File::from(sys::own_fd(fd)).read(&mut b);
    }

    // 7b. Landlock-only mode's metadata supervisor: its filter (which only sends the
    // metadata calls to the monitor), whose listener goes to the monitor
    // (src/supervise.rs). Before the report, which says whether it is in force.
    let metadata = match meta_sock {
        Some(sock) => crate::supervise::install(sock)?,
        None => plan.metadata.status(),
    };

    // 8. --report: what is in force, written while nothing is filtered yet.
    if let Some(to) = spec.report {
        write_report(
            spec,
            plan,
            &landlock,
            memfd_sysctl.as_ref(),
            host_sockets.as_ref(),
            metadata,
            to,
        )?;
    }

    // 8b. --rlimit, for the command only (pid 1 was forked above), just before exec;
    // under the hutch name the default process bound, where it bounds the sandbox alone.
    fault::hit(Step::Rlimit)?;
    if let Ok(n) = spec.limits.default_nproc(plan.userns, plan.real_uid) {
        crate::limits::apply_default_nproc(n)?;
    }
    crate::limits::apply_rlimits(&spec.limits.rlimits)?;

    // 8c. Descriptor hygiene: nothing inherited reaches the command unless named.
    if let Some(keep) = &spec.keep_fds {
        let mut keep = keep.clone();
        if spec.as_pid_1 {
            keep.extend(spec.sync_fd);
        }
        fault::hit(Step::CloseFds)?;
        sys::cloexec_all_but(&keep).ctx(|| "Can't close inherited file descriptors".into())?;
    }

    // 8d. The caller's signal mask (--forward-signals blocked some): a signal that
    // arrived during the setup is delivered now, with the caller's disposition.
    if let Some(mask) = &plan.signal_mask {
        sys::restore_sigmask(mask);
    }

    // 9. seccomp last: the filter may forbid what the steps above need.
    fault::hit(Step::Seccomp)?;
    for p in &plan.seccomp {
        p.install()?;
    }
    fault::hit(Step::Exec)?;
    exec(spec, &env)
}

/// Whether a bind's source is in /proc, seen from the host.
fn sources_in_proc(ops: &[Op], sources: &[Option<PathBuf>]) -> bool {
    let proc = |p: &Path| p.starts_with("/proc");
    ops.iter().zip(sources).any(|(op, src)| match op {
        Op::Bind { src: given, .. } => proc(given) || src.as_deref().is_some_and(proc),
        Op::BindFd { .. } => src.as_deref().is_some_and(proc),
        Op::Overlay { sources, .. } => sources.iter().any(|s| proc(s)),
        _ => false,
    })
}

/// Only the command's process keeps the `--report-fd` (until it writes the report).
fn close_report_fd(spec: &Spec) {
    if let Some(ReportTo::Fd(fd)) = spec.report {
        if fd > 2 {
            let _ = nix::unistd::close(fd);
        }
    }
}

/// `--report`/`--report-fd`: the protections in force for the command, as JSON.
fn write_report(
    spec: &Spec,
    plan: &Plan,
    landlock: &crate::landlock::Status,
    memfd_sysctl: Option<&std::result::Result<u8, String>>,
    host_sockets: Option<&sockets::Outcome>,
    metadata: &'static str,
    to: ReportTo,
) -> Result<()> {
    let mut namespaces = Vec::new();
    for (flag, name) in [
        (libc::CLONE_NEWUSER, "user"),
        (libc::CLONE_NEWNS, "mnt"),
        (libc::CLONE_NEWPID, "pid"),
        (libc::CLONE_NEWNET, "net"),
        (libc::CLONE_NEWIPC, "ipc"),
        (libc::CLONE_NEWUTS, "uts"),
        (libc::CLONE_NEWCGROUP, "cgroup"),
    ] {
        if plan.clone_flags & flag != 0 || (flag == libc::CLONE_NEWNET && plan.net_beside) {
            namespaces.push(name);
        }
    }
    let mut capabilities: Vec<String> = caps::current_effective()
        .iter()
        .map(|c| c.to_string())
        .collect();
    capabilities.sort();
    let text = report::enforcement_json(&report::Enforcement {
        namespaces,
        mode: if plan.landlock_only {
            "landlock-only"
        } else {
            "namespaces"
        },
        landlock,
        seccomp_policy: seccomp_policy::describe(&spec.seccomp_policy),
        seccomp_action: match spec.seccomp_policy.action {
            crate::spec::PolicyAction::Errno => "errno",
            crate::spec::PolicyAction::Kill => "kill",
            crate::spec::PolicyAction::Log => "log",
        },
        seccomp_programs: plan.seccomp.len(),
        memfd_exec: memfd_report(spec, memfd_sysctl),
        metadata,
        capabilities,
        no_new_privs: nix::sys::prctl::get_no_new_privs().unwrap_or(false),
        host_sockets: report::HostSockets::new(
            spec.host_sockets.block,
            plan.landlock_only,
            host_sockets,
        ),
        bounds: bounds(spec, plan),
    });
    let text = crate::allow::report_policy(text, &spec.net);
    let fd = match to {
        ReportTo::Stderr => 2,
        ReportTo::Fd(fd) => fd,
    };
    // Not closed here: fd 2 stays the command's; close_report_fd closes any other.
    let mut f = std::mem::ManuallyDrop::new(std::fs::File::from(sys::own_fd(fd)));
    f.write_all(text.as_bytes())
        .ctx(|| "Write to the report fd".into())?;
    close_report_fd(spec);
    Ok(())
}

/// What holds against memfd execution: `(status, how)`, status `not needed`, `full`,
/// `partial` or `none`.
fn memfd_report(
    spec: &Spec,
    sysctl: Option<&std::result::Result<u8, String>>,
) -> (&'static str, String) {
    let Some(sysctl) = sysctl else {
        return (
            "not needed",
            "the Landlock rules let the command execute wherever it can write".into(),
        );
    };
    let seccomp = spec.seccomp_policy.source == crate::spec::PolicySource::Default
        && spec.seccomp_policy.action != crate::spec::PolicyAction::Log;
    let sealed = "memfds are created non-executable and sealed so";
    match (sysctl, seccomp) {
        (Ok(2), _) => (
            "full",
            format!(
                "vm.memfd_noexec = 2 in the sandbox's pid namespace: {sealed}, MFD_EXEC is refused"
            ),
        ),
        (Ok(level), true) => (
            "full",
            format!(
                "vm.memfd_noexec = {level} in the sandbox's pid namespace: {sealed}; the \
                 seccomp policy refuses MFD_EXEC"
            ),
        ),
        (Ok(level), false) => (
            "partial",
            format!(
                "vm.memfd_noexec = {level} in the sandbox's pid namespace: {sealed}, but \
                 memfd_create(MFD_EXEC) works (no default seccomp policy)"
            ),
        ),
        (Err(why), true) => (
            "partial",
            format!(
                "the seccomp policy refuses memfd_create(MFD_EXEC) and execveat(AT_EMPTY_PATH) \
                 (fexecve), not execve of /proc/self/fd/N; {why}"
            ),
        ),
        (Err(why), false) => ("none", format!("{why}; no default seccomp policy")),
    }
}

/// The resource bounds for `--report`: `--rlimit nproc` if given, else the default.
fn bounds(spec: &Spec, plan: &Plan) -> report::Bounds {
    let l = &spec.limits;
    let tmpfs = if plan.landlock_only {
        None
    } else {
        l.tmpfs_size
    };
    let given = l
        .rlimits
        .iter()
        .find(|r| r.name == crate::limits::RlimitName::Nproc);
    let (nproc, nproc_from) = match (given, l.default_nproc(plan.userns, plan.real_uid)) {
        (Some(r), _) => (r.soft, "--rlimit".to_string()),
        // Lowered to the default, never raised: the caller's own limit may be lower.
        (None, Ok(n)) => {
            let cur = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NPROC)
                .map_or(n, |(soft, _)| soft);
            (Some(n.min(cur)), "default".to_string())
        }
        (None, Err(why)) => (None, why.to_string()),
    };
    report::Bounds {
        tmpfs,
        nproc,
        nproc_from,
    }
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

fn lookup<'a>(env: &'a [(OsString, OsString)], key: &str) -> Option<&'a OsStr> {
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

/// `--chdir`, else the old cwd if it exists inside, else `$HOME`, else `/`. The
/// result becomes `$PWD` as given, as bwrap's does (not resolved: a symlinked or
/// relative `--chdir` stays as written).
fn working_dir(spec: &Spec, plan: &Plan, env: &[(OsString, OsString)]) -> Result<PathBuf> {
    if let Some(dir) = &spec.chdir {
        nix::unistd::chdir(dir.as_path()).ctx(|| format!("Can't chdir to {}", dir.display()))?;
        return Ok(dir.clone());
    }
    let candidates = plan
        .old_cwd
        .iter()
        .cloned()
        .chain(lookup(env, "HOME").map(PathBuf::from));
    for dir in candidates {
        if nix::unistd::chdir(dir.as_path()).is_ok() {
            return Ok(dir);
        }
    }
    nix::unistd::chdir("/").ctx(|| "Can't chdir to /".into())?;
    Ok(PathBuf::from("/"))
}

fn cstring(s: &OsStr) -> Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        Error::msg(format!(
            "argument contains a NUL byte: {}",
            s.to_string_lossy()
        ))
    })
}

/// Exec the command, searched on the sandbox's PATH like execvp.
fn exec(spec: &Spec, env: &[(OsString, OsString)]) -> Result<std::convert::Infallible> {
    let file = &spec.command[0];
    let mut argv: Vec<CString> = spec
        .command
        .iter()
        .map(|a| cstring(a))
        .collect::<Result<_>>()?;
    if let Some(a0) = &spec.argv0 {
        argv[0] = cstring(a0)?;
    }
    let envp: Vec<CString> = env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.clone().into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).map_err(|_| Error::msg("environment contains a NUL byte"))
        })
        .collect::<Result<_>>()?;
    let fail = |e: std::io::Error| Error::io(format!("execvp {}", file.to_string_lossy()), e);
    // execvp's fallback (POSIX requires it): a file the kernel will not run (a script
    // without `#!`) runs through /bin/sh as `/bin/sh PATH ARGS...`.
    let exec_or_sh = |path: &CString| {
        let err = sys::exec(path, &argv, &envp);
        if err.raw_os_error() != Some(libc::ENOEXEC) {
            return err;
        }
        let sh = c"/bin/sh".to_owned();
        let mut sh_argv = vec![sh.clone(), path.clone()];
        sh_argv.extend(argv.iter().skip(1).cloned());
        sys::exec(&sh, &sh_argv, &envp)
    };
    if file.as_bytes().contains(&b'/') {
        return Err(fail(exec_or_sh(&cstring(file)?)));
    }
    let path = lookup(env, "PATH")
        .map(|p| p.to_os_string())
        .unwrap_or_else(|| "/bin:/usr/bin".into());
    let mut last = std::io::Error::from_raw_os_error(libc::ENOENT);
    let mut saw_eacces = false;
    for dir in path.as_bytes().split(|b| *b == b':') {
        let dir = if dir.is_empty() { b".".as_slice() } else { dir };
        let mut full = dir.to_vec();
        full.push(b'/');
        full.extend_from_slice(file.as_bytes());
        let candidate = CString::new(full).map_err(|_| Error::msg("PATH contains a NUL byte"))?;
        let err = exec_or_sh(&candidate);
        match err.raw_os_error() {
            Some(libc::EACCES) => saw_eacces = true,
            Some(libc::ENOENT) | Some(libc::ENOTDIR) | Some(libc::ESTALE) | Some(libc::ELOOP)
            | Some(libc::ENODEV) => {}
            _ => return Err(fail(err)),
        }
        last = err;
    }
    if saw_eacces {
        last = std::io::Error::from_raw_os_error(libc::EACCES);
    }
    Err(fail(last))
}
