//! The orchestrator: it carries out a [`Plan`] (src/plan.rs), the parent (monitor)
//! half and the child half, each one commented line per stage ([`monitor`], [`child`]).
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

use crate::error::{Context, Error, Result};
use crate::fault::{self, Step};
use crate::mounts::{self, Root};
use crate::plan::{self, environment, lookup, Host, Memfd, Metadata, Plan};
use crate::spec::{Op, Spec};
use crate::{caps, report, sockets, sys, userns};

/// What the monitor opens for the child before cloning: the plan's decisions are
/// in [`Plan`], these are the descriptors and state that carry them out.
struct Handles {
    /// `--net user`: the child waits here until the network helper is ready.
    net_gate: crate::net::Gate,
    /// `--host-sockets block`: a sock_diag socket in the caller's network namespace,
    /// on which the child lists the host's sockets (src/stage/sockets.rs).
    host_diag: Option<OwnedFd>,
    /// `--forward-signals`: the signal mask before hutch blocked the forwarded
    /// signals, which the command and pid 1 get back (see `sys::forward_signals_to`).
    signal_mask: Option<nix::sys::signal::SigSet>,
    /// `--die-with-parent` in a new pid namespace: a pidfd of the monitor, on which the
    /// child sees whether the monitor died before the parent-death signal was set.
    monitor_pidfd: Option<OwnedFd>,
}

/// In the sandbox's own pid namespace (kernel 6.3+): `vm.memfd_noexec = 2`, so that
/// `memfd_create(MFD_EXEC)` fails and every other memfd is created non-executable and
/// sealed so (F_SEAL_EXEC). Before 6.6, 2 refused every memfd_create without
/// MFD_NOEXEC_SEAL, which breaks ordinary programs: there 1 (the sealed default only;
/// the seccomp policy refuses MFD_EXEC). The sysctl needs CAP_SYS_ADMIN over the
/// namespace, and its file is writable by real root only. `level` comes from the plan
/// (`plan::Memfd`). `Ok(level)`, or why not.
fn set_memfd_noexec(level: u8) -> std::result::Result<u8, String> {
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

/// (Kept here for the binary, src/main.rs: the type is the base layer's.)
pub use crate::error::Messages;

/// Explain a failed clone in terms a user can act on (src/stage/diagnose.rs).
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
    // The machine's facts, then every check (in bwrap's order) and every decision.
    let host = Host::probe(spec);
    // --landlock-only-fallback: the line that says why comes first, even before an error.
    let (landlock_only, fallback) = plan::landlock_only(spec, &host);
    if let Some(w) = fallback {
        msgs.warn(&w);
    }
    let plan = Plan::new(spec, &host)?;
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
    if landlock_only {
        if let Some(w) = crate::landlock_only::config_warning(spec) {
            msgs.warn(&w);
        }
    }
    // The metadata supervisor's rules (Landlock-only mode), resolved on the host.
    let meta_rules = match plan.metadata {
        Metadata::Supervised { caps } => Some(crate::supervise::rules(spec, caps)),
        _ => None,
    };
    monitor(spec, &plan, meta_rules, msgs)
}

/// The monitor (the parent half): one commented line per stage, as the child's.
fn monitor(
    spec: &Spec,
    plan: &Plan,
    meta_rules: Option<crate::supervise::Rules>,
    msgs: &Messages,
) -> Result<i32> {
    // What the child gets from us: the network gate, the sock_diag socket, the
    // blocked signals, a pidfd of ours.
    let mut handles = Handles::open(spec, plan)?;
    if spec.die_with_parent {
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).ctx(|| "prctl".into())?;
    }
    let (err_r, err_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
    let monitor = nix::unistd::getpid();
    // Limits: the clock starts and the cgroup is made before the child, born in it.
    let mut limits = crate::limits::Guard::start(spec, msgs)?;
    // --userns: we join it, and the child is made inside it.
    if let Some(fd) = spec.userns_fd {
        join_userns(fd)?;
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
    // Landlock-only mode's metadata supervisor, or the connection watch of
    // --allow-host/--allow-net: the command sends its listener here.
    let meta_sock = match meta_rules.is_some() || spec.net.filtered() {
        true => Some(seqpacket_pair()?),
        false => None,
    };
    let meta_theirs = meta_sock.as_ref().map(|(_, t)| t.as_raw_fd());
    fault::hit(Step::Clone)?;
    // The child shares our memory only when the monitor has nothing to do until it
    // execs (the plan says when), and no cgroup or --timeout watchdog needs us meanwhile.
    let pid = if plan.shared_child && limits.plain() {
        // In our memory while we wait (src/sys.rs): nothing of ours is taken.
        let (err_r, err_w) = (err_r.as_raw_fd(), err_w.as_raw_fd());
        sys::clone_shared(plan.clone_flags, &mut || {
            // The descriptor table is the child's own copy.
            let _ = nix::unistd::close(err_r);
            let result = child(spec, plan, &handles, monitor, None, None, meta_theirs);
            report_failure(result, err_w)
        })
        .map_err(|e| clone_error(e, plan.ns.user))?
    } else {
        let pid = limits
            .clone_child(plan.clone_flags)
            .map_err(|e| clone_error(e, plan.ns.user))?;
        if pid == 0 {
            drop(err_r);
            let result = match (spec.pidns_fd, pid_channel.take()) {
                (Some(fd), Some((_, theirs))) => {
                    enter_pidns(fd, spec.ns.pid, theirs).and_then(|sock| {
                        child(spec, plan, &handles, monitor, Some(sock), None, meta_theirs)
                    })
                }
                _ => child(
                    spec,
                    plan,
                    &handles,
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
    handles.host_diag = None;
    handles.monitor_pidfd = None;
    // Before anything else: the child is already building the root.
    let beside = beside.and_then(|b| b.spawn(pid));
    // --timeout: from here on a watchdog may end the sandbox.
    limits.watch(pid, msgs);
    // --pidns: the sandbox's pid, as it told us; pid 1 sends the exit status.
    let (pid, status_sock) = match pid_channel {
        None => (pid, None),
        Some((ours, theirs)) => match adopt(spec, pid, ours, theirs) {
            Some(adopted) => adopted,
            None => {
                let mut message = Vec::new();
                let _ = std::fs::File::from(err_r).read_to_end(&mut message);
                msgs.error(&String::from_utf8_lossy(&message));
                return Ok(1);
            }
        },
    };
    let child = Pid::from_raw(pid);
    // --allow-host/--allow-net: the report gets one more line at the end, what was refused.
    let net_report = crate::allow::ReportTail::keep(&spec.net, spec.report);
    report::close_fd(spec);
    // From here on signals are passed on to the child: pid 1 or the command.
    if let Some(mask) = &handles.signal_mask {
        sys::forward_signals_to(pid, mask, true);
    }

    // --info-fd, --json-status-fd: the namespaces, before setup starts, as bwrap does.
    let mut status_fd = announce(spec, plan, pid)?;

    // --net user: the helper enters the namespaces (made by clone) while the child sets
    // up, then opens the child's gate (see net.rs). If it fails, the child is killed at
    // the gate: the command never runs.
    let net = crate::net::attach(&spec.net, pid, &handles.net_gate);
    if net.is_err() {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
    } else {
        // The namespace ids above were read while the child waited at the gate,
        // so they are complete even for a command that ends at once.
        handles.net_gate.open()?;
    }

    // The metadata supervisor, or the connection watch: a thread of ours answers
    // the command's calls.
    if let Some((ours, theirs)) = meta_sock {
        drop(theirs);
        if let Some(listener) = crate::supervise::receive(&ours) {
            match (
                meta_rules,
                net.as_ref().ok().and_then(|h| h.as_ref()?.relay()),
            ) {
                (Some(rules), _) => crate::supervise::spawn(listener, rules),
                (None, Some(relay)) => relay.watch(listener),
                (None, None) => {}
            }
        }
    }
    // Wait: for the exec (or the child's error), then for the sandbox to end.
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

impl Handles {
    /// Open what the child gets from the monitor (see the fields).
    fn open(spec: &Spec, plan: &Plan) -> Result<Handles> {
        let net_gate = crate::net::Gate::new(
            &spec.net,
            spec.info_fd.is_some() || spec.json_status_fd.is_some(),
        )?;
        let host_diag = match spec.host_sockets.block && !plan.landlock_only {
            true => sockets::diag_socket(),
            false => None,
        };
        // --forward-signals: from before the cgroup is made until hutch can pass them
        // on, the signals wait (a SIGTERM now must not leave a cgroup behind).
        let signal_mask = spec.forward_signals.then(sys::block_forwarded_signals);
        let monitor_pidfd = match plan.monitor_pidfd {
            true => sys::pidfd_open(nix::unistd::getpid().as_raw()).ok(),
            false => None,
        };
        Ok(Handles {
            net_gate,
            host_diag,
            signal_mask,
            monitor_pidfd,
        })
    }
}

/// `--userns FD`: join that user namespace (the child is made inside it).
fn join_userns(fd: RawFd) -> Result<()> {
    join(fd, nix::sched::CloneFlags::CLONE_NEWUSER).map_err(|e| {
        if e == nix::errno::Errno::EINVAL {
            Error::msg("Joining the specified user namespace failed, it might not be a descendant of the current user namespace.")
        } else {
            Error::io("Joining specified user namespace failed", e.into())
        }
    })
}

/// A close-on-exec pair of connected SOCK_SEQPACKET sockets.
fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd)> {
    nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::SeqPacket,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "socketpair".into())
}

/// `--pidns`: the sandbox's pid in our namespace, as it sent it, once the
/// intermediate process (`pid`) has exited; with `--unshare-pid` too, the socket on
/// which its pid 1 sends the exit status. `None` if the sandbox died first.
fn adopt(spec: &Spec, pid: i32, ours: OwnedFd, theirs: OwnedFd) -> Option<(i32, Option<OwnedFd>)> {
    drop(theirs);
    let real = receive_pid(&ours);
    // The intermediate processes exit at once; the sandbox is reparented to us.
    let _ = wait_exit_code(Pid::from_raw(pid));
    let status_sock = spec.ns.pid.then_some(ours);
    real.map(|real| (real, status_sock))
}

/// `--info-fd` and `--json-status-fd`'s first line: the child's pid and the
/// namespaces the plan made, with their inode numbers. The status fd is returned,
/// for the last line.
fn announce(spec: &Spec, plan: &Plan, pid: i32) -> Result<Option<std::fs::File>> {
    let ids = if !plan.landlock_only && (spec.info_fd.is_some() || spec.json_status_fd.is_some()) {
        report::namespace_ids(pid, plan)
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
    Ok(status_fd)
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

/// The child half: never returns on success (it execs). One line per stage; the
/// order is the point, and each line says what fixes it.
fn child(
    spec: &Spec,
    plan: &Plan,
    handles: &Handles,
    monitor: Pid,
    status_sock: Option<OwnedFd>,
    mut net_beside: Option<OwnedFd>,
    meta_sock: Option<RawFd>,
) -> Result<std::convert::Infallible> {
    // Die with the monitor (--die-with-parent), and not start if it died already.
    follow_monitor(spec, handles, monitor)?;
    // Our copies of the report fds belong to the monitor.
    for fd in [spec.info_fd, spec.json_status_fd].into_iter().flatten() {
        let _ = nix::unistd::close(fd);
    }
    // Build the root with umask 0, as bwrap does: modes are exactly what was asked
    // for. The command gets the caller's umask back.
    let umask = nix::sys::stat::umask(Mode::empty());
    // 1. Identity: the caller mapped into the new user namespace; --userns-block-fd.
    let proc_self = map_ids(spec, plan)?;
    // 1b. No executable memfds (the host's /proc, before the new root hides it).
    let memfd_sysctl = memfd_sysctl(plan);
    // --disable-userns: the sysctl's file, opened while the host's /proc is in view.
    let max_userns = open_max_userns(spec, plan)?;
    // 2. The new root: sources resolved on the host, every op in order, pivot.
    let host_sockets = match plan.landlock_only {
        // Landlock-only mode has none: the ops become Landlock rules (4b).
        true => None,
        false => build_root(spec, handles, monitor, plan.real_uid, &mut net_beside)?,
    };
    // The namespaces entered once the root is built: network, --userns2, --userns ids.
    enter_late_namespaces(spec, net_beside)?;
    // 3. Host name and loopback, while we still hold capabilities.
    name_and_loopback(spec, plan)?;
    // 3b. --allow-host/--allow-net: routes and sockets for the monitor's relay
    // (src/stage/allow.rs), in the sandbox's network namespace, capabilities still held.
    crate::net::allow_child(
        &spec.net,
        &handles.net_gate,
        spec.ns.net && !plan.landlock_only,
    )?;
    // 4. Final identity: the nested user namespace; --disable-userns holds.
    final_identity(spec, plan, proc_self, max_userns)?;
    // 4b. Landlock: after the mounts (paths are the sandbox's own), before the
    // capabilities go (it needs no privilege, only no_new_privs).
    let landlock = restrict_landlock(spec, plan)?;
    // 5. Capabilities, as bwrap.
    drop_caps(spec, plan)?;
    // 6. The process: umask, cwd, environment.
    nix::sys::stat::umask(umask);
    let env = process_env(spec, plan)?;
    // 7a. --net user: wait for the network helper. Here, not earlier, so that its
    // start overlaps the setup above (it needs only the namespaces, made by clone);
    // before the fork, so that one process waits and neither pid 1 nor the command
    // exist without the network.
    handles.net_gate.wait()?;
    // bwrap calls setsid before it forks its pid 1: pid 1 leads the new session and
    // the command, in it, does not (it cannot take a controlling terminal by opening one).
    if spec.new_session {
        nix::unistd::setsid().ctx(|| "setsid".into())?;
    }
    // 7. pid 1 reaps everything while the command runs as pid 2 (pid 1 stays there).
    if plan.init {
        fork_init(spec, plan, handles, status_sock, meta_sock)?;
    }
    // The command from here on: die with the monitor, no_new_privs, --block-fd.
    command_prelude(spec)?;
    // 7b. Landlock-only mode's metadata supervisor (src/stage/supervise.rs), or the
    // connection watch of --allow-host/--allow-net (src/stage/allow.rs): its filter,
    // whose listener goes to the monitor. Before the report, which says whether it is in force.
    let metadata = match meta_sock {
        Some(sock) if matches!(plan.metadata, Metadata::Supervised { .. }) => {
            crate::supervise::install(sock)?
        }
        Some(sock) => {
            crate::allow::watch_install(sock)?;
            plan.metadata.status()
        }
        None => plan.metadata.status(),
    };
    // 8. --report: what is in force, written while nothing is filtered yet.
    if let Some(to) = spec.report {
        let sockets = host_sockets.as_ref();
        let memfd = memfd_sysctl.as_ref();
        report::write_report(spec, plan, &landlock, memfd, sockets, metadata, to)?;
    }
    // 8b. --rlimit and the default process bound, for the command only, just before exec.
    apply_rlimits(spec, plan)?;
    // 8c. Descriptor hygiene: nothing inherited reaches the command unless named.
    close_inherited_fds(spec)?;
    // 8d. The caller's signal mask (--forward-signals blocked some): a signal that
    // arrived during the setup is delivered now, with the caller's disposition.
    if let Some(mask) = &handles.signal_mask {
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

/// `--die-with-parent`: the parent-death signal, and a check that the monitor did
/// not die before it was set.
fn follow_monitor(spec: &Spec, handles: &Handles, monitor: Pid) -> Result<()> {
    if spec.die_with_parent {
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).ctx(|| "prctl".into())?;
        // The monitor may have died before the line above. (In a new pid
        // namespace the parent is outside it and getppid() is always 0.)
        if !spec.ns.pid && spec.pidns_fd.is_none() && nix::unistd::getppid() != monitor {
            sys::exit_now(1);
        }
    }
    // There, the monitor's pidfd tells.
    if let Some(fd) = handles.monitor_pidfd.as_ref().map(|fd| fd.as_raw_fd()) {
        let gone = sys::pidfd_exited(fd);
        let _ = nix::unistd::close(fd);
        if gone {
            sys::exit_now(1);
        }
    }
    Ok(())
}

/// Map the caller into the new user namespace; then wait at `--userns-block-fd`. The
/// /proc/self descriptor, returned, outlives the pivot, for the nested namespace's maps.
fn map_ids(spec: &Spec, plan: &Plan) -> Result<OwnedFd> {
    let proc_self = nix::fcntl::open(
        "/proc/self",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "Can't open /proc/self".into())?;
    if plan.ns.user {
        fault::hit(Step::UidMap)?;
        userns::write_maps(proc_self.as_fd(), &plan.layout.outer_maps())
            .ctx(|| "setting up uid map".into())
            .map_err(|e| crate::diagnose::in_setup(spec, e, false))?;
    }
    if let Some(fd) = spec.userns_block_fd {
        let mut b = [0u8; 1];
        let _ = std::fs::File::from(sys::own_fd(fd)).read(&mut b);
    }
    Ok(proc_self)
}

/// No executable memfds where the plan forbids executing some writable place: the
/// sysctl of our new pid namespace (we are its pid 1), through the host's /proc
/// before the new root hides it, while we hold capabilities. The seccomp policy
/// refuses what it can see of the rest (src/stage/seccomp_policy.rs). `None`: not needed.
fn memfd_sysctl(plan: &Plan) -> Option<std::result::Result<u8, String>> {
    match &plan.memfd {
        Memfd::NotNeeded => None,
        Memfd::NoSysctl(why) => Some(Err(why.clone())),
        Memfd::Sysctl(level) => Some(set_memfd_noexec(*level)),
    }
}

/// `--disable-userns`: `user.max_user_namespaces`, opened now, written once the
/// nested namespace is made (see [`final_identity`]).
fn open_max_userns(spec: &Spec, plan: &Plan) -> Result<Option<std::fs::File>> {
    if !spec.disable_userns || plan.landlock_only {
        return Ok(None);
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open("/proc/sys/user/max_user_namespaces")
        .ctx(|| "cannot open /proc/sys/user/max_user_namespaces".into())?;
    Ok(Some(file))
}

/// The new root: sources resolved on the host first, then every op in order, then
/// hutch's own configuration read-only and the host's sockets masked, then the
/// pivot. (src/stage/diagnose.rs adds the cause to a refused source, first mount or
/// procfs.) Returns what was done about the host's sockets (`--host-sockets block`).
fn build_root(
    spec: &Spec,
    handles: &Handles,
    monitor: Pid,
    real_uid: u32,
    net_beside: &mut Option<OwnedFd>,
) -> Result<Option<sockets::Outcome>> {
    let sources = mounts::resolve_sources(&spec.ops)
        .map_err(|e| crate::diagnose::in_sources(spec, e, real_uid))?;
    // --host-sockets block: the host's sockets, read while the host is in view
    // (the monitor is still in the caller's network namespace).
    let listed = match spec.host_sockets.block {
        true => Some(sockets::read_host(
            handles.host_diag.as_ref().map(|fd| fd.as_fd()),
            monitor.as_raw(),
        )?),
        false => None,
    };
    // Not kept for pid 1: the socket is in the host's network namespace.
    if let Some(fd) = &handles.host_diag {
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
    let in_pid_ns = spec.ns.pid || spec.pidns_fd.is_some();
    for ((op, host_op), src) in spec.ops.iter().zip(&host_ops).zip(&sources) {
        root.apply(host_op, src.as_deref(), in_pid_ns)
            .map_err(|e| crate::diagnose::in_op(spec, op, e))?;
    }
    // --net user: an internal last op, /etc/resolv.conf naming the helper's DNS forwarder.
    crate::net::place_resolv_conf(&spec.net, &spec.ops, &mut root)?;
    // Under the hutch name: hutch's own configuration read-only, after every op.
    root.protect_config(&config)?;
    // Last, over everything the ops made: the host's sockets that are still in view.
    let mut host_sockets = None;
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
    Ok(host_sockets)
}

/// After the root is built: the network namespace made beside (before anything can
/// use it, src/stage/netns.rs), the user namespace given with --userns2, and in a joined
/// namespace (--userns), where nobody wrote a map for us, the ids asked for.
fn enter_late_namespaces(spec: &Spec, net_beside: Option<OwnedFd>) -> Result<()> {
    if let Some(sock) = net_beside {
        crate::netns::enter(sock)?;
    }
    if let Some(fd) = spec.userns2_fd {
        join(fd, nix::sched::CloneFlags::CLONE_NEWUSER).ctx(|| "Setting userns2 failed".into())?;
    }
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
    Ok(())
}

/// `--hostname`, and the loopback interface of a new network namespace.
fn name_and_loopback(spec: &Spec, plan: &Plan) -> Result<()> {
    if let Some(name) = &spec.hostname {
        fault::hit(Step::Hostname)?;
        nix::unistd::sethostname(name)
            .ctx(|| format!("Can't set hostname to {}", name.to_string_lossy()))?;
    }
    if spec.ns.net && !plan.net_beside {
        fault::hit(Step::Loopback)?;
        sys::loopback_up().ctx(|| "Failed to bring up loopback".into())?;
    }
    Ok(())
}

/// The final identity: a nested user namespace mapping the sandbox ids onto ours.
/// With --disable-userns the outer namespace allows one namespace below it, the
/// nested one, so none can be made inside the sandbox; that is then verified.
fn final_identity(
    spec: &Spec,
    plan: &Plan,
    proc_self: OwnedFd,
    max_userns: Option<std::fs::File>,
) -> Result<()> {
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
    Ok(())
}

/// Landlock, with the plan's rules. no_new_privs first (as bwrap sets it anyway
/// before exec); pid 1, forked later, is inside the domain too.
fn restrict_landlock(spec: &Spec, plan: &Plan) -> Result<crate::landlock::Status> {
    nix::sys::prctl::set_no_new_privs().ctx(|| "prctl(PR_SET_NO_NEW_PRIVS) failed".into())?;
    fault::hit(Step::Landlock)?;
    let ll = &plan.landlock;
    crate::landlock::apply(&spec.landlock, ll.abi, &ll.unsupported, &ll.rules)
}

/// The capabilities, as bwrap: real root without a new user namespace and without
/// --cap-add/--cap-drop keeps everything untouched. In Landlock-only mode nobody
/// keeps any but those added (root's bounding set goes too).
fn drop_caps(spec: &Spec, plan: &Plan) -> Result<()> {
    if !plan.caps.change {
        return Ok(());
    }
    if plan.caps.noroot {
        // uid 0 would regain its bounding set at exec: only ambient caps may pass.
        sys::set_securebits(sys::SECBIT_NOROOT | sys::SECBIT_NOROOT_LOCKED)
            .ctx(|| "Can't set securebits".into())?;
    }
    fault::hit(Step::Caps)?;
    caps::apply(
        &plan.caps.keep,
        plan.caps.drop_bounding,
        !spec.caps.is_empty(),
    )
}

/// The command's environment, with `$PWD` the working directory it gets.
fn process_env(spec: &Spec, plan: &Plan) -> Result<Vec<(OsString, OsString)>> {
    let mut env = environment(&spec.env);
    fault::hit(Step::Chdir)?;
    let cwd = working_dir(spec, plan, &env)?;
    // setenv(3): replaced in place, else appended.
    match env.iter_mut().find(|(k, _)| k == "PWD") {
        Some((_, v)) => *v = cwd.into_os_string(),
        None => env.push(("PWD".into(), cwd.into_os_string())),
    }
    Ok(env)
}

/// Fork pid 1, which reaps everything and never returns here (src/run/init.rs); the
/// command, its child, returns.
fn fork_init(
    spec: &Spec,
    plan: &Plan,
    handles: &Handles,
    status_sock: Option<OwnedFd>,
    meta_sock: Option<RawFd>,
) -> Result<()> {
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
        report::close_fd(spec);
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
            handles.signal_mask.as_ref(),
        );
    }
    // The command: the sync fd stays with pid 1.
    if let Some(fd) = spec.sync_fd {
        let _ = nix::unistd::close(fd);
    }
    Ok(())
}

/// The command's own process: the parent-death signal (again: a fork clears it),
/// no_new_privs, and `--block-fd`.
fn command_prelude(spec: &Spec) -> Result<()> {
    if spec.die_with_parent {
        nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).ctx(|| "prctl".into())?;
    }
    nix::sys::prctl::set_no_new_privs().ctx(|| "prctl(PR_SET_NO_NEW_PRIVS) failed".into())?;
    if let Some(fd) = spec.block_fd {
        let mut b = [0u8; 1];
        let _ = std::fs::File::from(sys::own_fd(fd)).read(&mut b);
    }
    Ok(())
}

/// `--rlimit`, for the command only (pid 1 was forked before); under the hutch name
/// the default process bound, where it bounds the sandbox alone.
fn apply_rlimits(spec: &Spec, plan: &Plan) -> Result<()> {
    fault::hit(Step::Rlimit)?;
    if let Ok(n) = plan.default_nproc {
        crate::limits::apply_default_nproc(n)?;
    }
    crate::limits::apply_rlimits(&spec.limits.rlimits)
}

/// `--keep-fds`: nothing inherited reaches the command unless named.
fn close_inherited_fds(spec: &Spec) -> Result<()> {
    if let Some(keep) = &spec.keep_fds {
        let mut keep = keep.clone();
        if spec.as_pid_1 {
            keep.extend(spec.sync_fd);
        }
        fault::hit(Step::CloseFds)?;
        sys::cloexec_all_but(&keep).ctx(|| "Can't close inherited file descriptors".into())?;
    }
    Ok(())
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
