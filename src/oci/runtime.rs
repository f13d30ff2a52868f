//! The runtime: `create` builds the container around a process that waits for
//! `start`, then exits; nothing of hutch stays alive beside the container.
//!
//! ```text
//! create: config.json ─► Container (config.rs) ─► join namespaces by path ─► clone
//!         (new namespaces) ─► id maps, cgroup, createRuntime hooks ─► "go" ─► ready
//!         ─► pid file, state.json ─► exit (the process is reparented to conmon)
//! child:  session and console ─► new root (hutch's ops, then sysfs, masks...) ─►
//!         hostname, sysctl ─► Landlock ─► [seccomp] ─► user, groups, capabilities ─►
//!         cwd, the command looked up ─► "ready" ─► waits on exec.fifo ─► [seccomp] ─► exec
//! start:  a byte into exec.fifo, which is removed; poststart hooks
//! ```

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};

use super::config::{self, CapSets, Container, Proc, Step};
use super::state::{self, Saved, Status, Store};
use crate::error::{Context, Error, Result};
use crate::mounts::Root;
use crate::seccomp::Program;
use crate::sys;

/// Options of `create`.
pub struct CreateOpts {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
}

/// Options of `exec`.
pub struct ExecOpts {
    pub id: String,
    pub process: PathBuf,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub tty: Option<bool>,
}

fn seqpacket() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "socketpair".into())
}

fn send_msg(sock: &OwnedFd, msg: &[u8]) {
    let _ = send(sock.as_raw_fd(), msg, MsgFlags::empty());
}

fn recv_msg(sock: &OwnedFd) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 8192];
    loop {
        match recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            Ok(0) => return None,
            Ok(n) => {
                buf.truncate(n);
                return Some(buf);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// In a child: report the failure on the sync socket and exit.
fn fail_child(sock: &OwnedFd, e: Error) -> ! {
    let mut msg = b"e".to_vec();
    msg.extend_from_slice(e.to_string().as_bytes());
    send_msg(sock, &msg);
    sys::exit_now(1);
}

/// The seccomp programs of a container: the bundle's profile compiled, or hutch's
/// default policy (hardening on, no profile in the bundle).
fn seccomp_programs(oci: &oci_spec::runtime::Spec, c: &Container) -> Result<Vec<Program>> {
    let mut programs = crate::seccomp_policy::programs(
        &c.spec.seccomp_policy,
        crate::landlock::exec_denied_where_writable(&c.spec.landlock.fs),
        None,
    )?;
    if let Some(profile) = oci.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        programs.extend(super::seccomp_program(profile)?);
    }
    Ok(programs)
}

/// The connection to `--console-socket`, made by the runtime before the process
/// changes root (the socket is a path on the host).
fn console_socket(socket: Option<&Path>) -> Result<std::os::unix::net::UnixStream> {
    let socket = socket
        .ok_or_else(|| Error::msg("process.terminal is true but no --console-socket was given"))?;
    std::os::unix::net::UnixStream::connect(socket)
        .ctx(|| format!("Can't connect to --console-socket {}", socket.display()))
}

/// In the process, inside its root: a pseudo-terminal from the container's own devpts
/// (so that `tty` names it there), whose master goes to the console socket
/// (SCM_RIGHTS); the slave is returned, for stdio and controlling terminal. With
/// `console`, it is also bound on /dev/console; `size` is its (rows, columns).
fn console(
    stream: std::os::unix::net::UnixStream,
    console: bool,
    size: Option<(u16, u16)>,
) -> Result<OwnedFd> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .ctx(|| "Can't open /dev/ptmx".into())?;
    // process.consoleSize, as crun sets it: before the process can read it.
    if let Some((rows, cols)) = size {
        sys::set_window_size(master.as_raw_fd(), rows, cols)
            .ctx(|| format!("process.consoleSize {rows}x{cols}: TIOCSWINSZ"))?;
    }
    nix::pty::grantpt(&master).ctx(|| "grantpt".into())?;
    nix::pty::unlockpt(&master).ctx(|| "unlockpt".into())?;
    let name = nix::pty::ptsname_r(&master).ctx(|| "ptsname".into())?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("Can't open {name}"))?;
    crate::sys::send_fd(
        stream.as_raw_fd(),
        name.as_bytes(),
        Some(master.as_raw_fd()),
    )
    .ctx(|| "Can't send the console to --console-socket".into())?;
    if console {
        let dev = Path::new("/dev/console");
        if !dev.exists() {
            let _ = std::fs::File::create(dev);
        }
        nix::mount::mount(
            Some(name.as_str()),
            dev,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| format!("Can't bind {name} on /dev/console"))?;
    }
    Ok(slave)
}

/// In the process: a new session; with a console, its slave as stdio and controlling
/// terminal.
fn session(slave: Option<OwnedFd>) -> Result<()> {
    nix::unistd::setsid().ctx(|| "setsid".into())?;
    if let Some(slave) = slave {
        sys::set_controlling_tty(slave.as_raw_fd()).ctx(|| "Can't set the console".into())?;
        nix::unistd::dup2_stdin(&slave).ctx(|| "dup2 console".into())?;
        nix::unistd::dup2_stdout(&slave).ctx(|| "dup2 console".into())?;
        nix::unistd::dup2_stderr(&slave).ctx(|| "dup2 console".into())?;
    }
    Ok(())
}

fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("hutch-tmp");
    std::fs::write(&tmp, pid.to_string()).ctx(|| format!("Can't write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).ctx(|| format!("Can't write --pid-file {}", path.display()))
}

/// Join a namespace by path (`setns`).
fn join_ns(kind: nix::sched::CloneFlags, path: &Path) -> Result<()> {
    let f = std::fs::File::open(path).ctx(|| format!("Can't open namespace {}", path.display()))?;
    nix::sched::setns(f.as_fd(), kind).ctx(|| format!("Can't join namespace {}", path.display()))
}

/// Where cgroup v2 is mounted (the unified hierarchy), if anywhere.
fn cgroup2_root() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find_map(|l| {
        let (left, right) = l.split_once(" - ")?;
        if right.split(' ').next() != Some("cgroup2") {
            return None;
        }
        left.split(' ').nth(4).map(PathBuf::from)
    })
}

/// The container's cgroups: `linux.cgroupsPath` under the cgroup v2 hierarchy, with
/// `linux.resources` applied (src/oci/resources.rs); on a hybrid host whose v2
/// hierarchy has not the controllers, the pids and memory limits and the CPU shares go
/// to their v1 hierarchies (returned second). `None` where there is no path, or (without limits)
/// where it cannot be made (rootless).
fn make_cgroup(
    oci: &oci_spec::runtime::Spec,
    c: &Container,
) -> Result<(Option<PathBuf>, Vec<PathBuf>)> {
    let resources = oci.linux().as_ref().and_then(|l| l.resources().clone());
    let limits = match &resources {
        Some(r) => Some(super::resources::limits(r)?),
        None => None,
    };
    let shares = resources.as_ref().and_then(super::resources::cpu_shares);
    let has_limits = shares.is_some()
        || limits.as_ref().is_some_and(|l| {
            l.memory.is_some()
                || l.pids.is_some()
                || l.cpu_quota.is_some()
                || l.io_weight.is_some()
                || l.memory_swap.is_some()
        });
    let Some(rel) = c.cgroups_path.as_ref() else {
        if has_limits {
            return Err(Error::msg(
                "linux.resources set without linux.cgroupsPath: hutch makes no cgroup then",
            ));
        }
        return Ok((None, Vec::new()));
    };
    let text = rel.to_string_lossy();
    if text.contains(':') {
        return Err(Error::msg(format!(
            "linux.cgroupsPath {text}: a systemd slice; hutch manages cgroups itself (cgroupfs)"
        )));
    }
    let Some(root) = cgroup2_root() else {
        if has_limits {
            return Err(Error::msg(
                "linux.resources: no cgroup v2 hierarchy mounted on this host",
            ));
        }
        return Ok((None, Vec::new()));
    };
    let rel = rel.strip_prefix("/").unwrap_or(rel).to_path_buf();
    let dir = root.join(&rel);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        if has_limits {
            return Err(Error::io(
                format!("Can't create cgroup {}", dir.display()),
                e,
            ));
        }
        return Ok((None, Vec::new()));
    }
    let mut v1 = Vec::new();
    if let (Some(r), Some(l)) = (&resources, &limits) {
        if let Err(e) = super::apply_resources(&dir, r) {
            // Only pids and memory limits and CPU shares, and only on v1 hierarchies of
            // their own.
            let v1_only = l.cpu_quota.is_none() && l.io_weight.is_none();
            let mut files = Vec::new();
            if let Some(n) = shares {
                files.push(("cpu", "cpu.shares", n.to_string()));
            }
            if let Some(n) = l.pids {
                files.push(("pids", "pids.max", n.to_string()));
            }
            if let Some(n) = l.memory {
                files.push(("memory", "memory.limit_in_bytes", n.to_string()));
            }
            // Memory and swap together, as in v1's memsw (written after the memory limit).
            if let Some(n) = l.memory_swap.zip(l.memory).map(|(s, m)| s + m) {
                files.push(("memory", "memory.memsw.limit_in_bytes", n.to_string()));
            }
            let hier = |name: &str| Path::new("/sys/fs/cgroup").join(name);
            if !v1_only
                || files.iter().any(|(h, _, _)| {
                    !hier(h).join("cgroup.procs").exists() || cgroup2_root() == Some(hier(h))
                })
            {
                remove_cgroup(&dir);
                return Err(e);
            }
            for (h, file, value) in files {
                let d = hier(h).join(&rel);
                std::fs::create_dir_all(&d)
                    .ctx(|| format!("Can't create cgroup {}", d.display()))?;
                v1.push(d.clone());
                std::fs::write(d.join(file), &value)
                    .ctx(|| format!("linux.resources: {} = {value}", d.join(file).display()))?;
            }
        }
    }
    Ok((Some(dir), v1))
}

fn remove_cgroup(dir: &Path) {
    crate::cgroup::kill_dir(dir);
    for _ in 0..100 {
        match std::fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            _ => return,
        }
    }
}

/// `create`.
pub fn create(store: &Store, o: &CreateOpts) -> Result<()> {
    let bundle =
        std::fs::canonicalize(&o.bundle).ctx(|| format!("--bundle {}", o.bundle.display()))?;
    let oci = config::load_checked(&bundle)?;
    let c = config::container(&bundle, &oci)?;
    let seccomp = seccomp_programs(&oci, &c)?;
    store.create_dir(&o.id)?;
    let mut made = (None, Vec::new());
    let r = create_in(store, o, &bundle, &oci, &c, &seccomp, &mut made);
    if r.is_err() {
        for dir in made.0.iter().chain(&made.1) {
            remove_cgroup(dir);
        }
        let _ = store.remove(&o.id);
    }
    r
}

fn write_map(pid: i32, file: &str, ranges: &[(u32, u32, u32)]) -> Result<()> {
    let text = crate::userns::map_text(ranges);
    std::fs::write(format!("/proc/{pid}/{file}"), text).ctx(|| format!("Can't write {file}"))
}

fn create_in(
    store: &Store,
    o: &CreateOpts,
    bundle: &Path,
    oci: &oci_spec::runtime::Spec,
    c: &Container,
    seccomp: &[Program],
    cgroups_out: &mut (Option<PathBuf>, Vec<PathBuf>),
) -> Result<()> {
    let fifo_path = store.fifo(&o.id);
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .ctx(|| format!("Can't make {}", fifo_path.display()))?;
    let fifo = nix::fcntl::open(
        &fifo_path,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("Can't open {}", fifo_path.display()))?;
    let stream = match c.process.terminal {
        true => Some(console_socket(o.console_socket.as_deref())?),
        false => None,
    };
    let (cgroup, cgroups_v1) = make_cgroup(oci, c)?;
    *cgroups_out = (cgroup.clone(), cgroups_v1.clone());
    let (ours, theirs) = seqpacket()?;
    // Namespaces joined by path are joined by a short-lived intermediate process,
    // which then clones the container's: the runtime itself stays where it is (its
    // state directory, the maps it writes), as runc's nsexec does.
    let (pid_r, pid_w) = seqpacket()?;
    let forked = if c.join.is_empty() {
        0
    } else {
        sys::fork().ctx(|| "fork".into())?
    };
    if c.join.is_empty() || forked == 0 {
        let intermediate = !c.join.is_empty();
        for (kind, path) in &c.join {
            if let Err(e) = join_ns(*kind, path) {
                fail_child(&pid_w, e);
            }
        }
        // A new cgroup namespace is entered by the child once it is in its cgroup
        // (after "go"), so that the namespace's root is the container's cgroup.
        let pid = match sys::clone_fork(c.clone_flags & !libc::CLONE_NEWCGROUP) {
            Ok(pid) => pid,
            Err(e) if intermediate => fail_child(&pid_w, Error::io("clone", e)),
            Err(e) => return Err(Error::io("clone", e)),
        };
        if pid == 0 {
            drop(ours);
            drop(pid_w);
            let r = container_child(c, seccomp, &theirs, stream, fifo.as_raw_fd());
            fail_child(&theirs, r.unwrap_err());
        }
        send_msg(&pid_w, format!("p{pid}").as_bytes());
        if intermediate {
            sys::exit_now(0);
        }
    }
    drop(pid_w);
    let msg = recv_msg(&pid_r).unwrap_or_default();
    if forked != 0 {
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(forked), None);
    }
    let pid: i32 = match msg.split_first() {
        Some((b'p', n)) => String::from_utf8_lossy(n).parse().unwrap_or(0),
        Some((_, e)) => return Err(Error::msg(String::from_utf8_lossy(e).into_owned())),
        None => 0,
    };
    if pid <= 0 {
        return Err(Error::msg("the container process could not be made"));
    }
    drop(theirs);
    drop(stream);
    drop(fifo);
    let kill = || {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    };
    let setup = || -> Result<()> {
        if c.clone_flags & libc::CLONE_NEWUSER != 0 {
            if !nix::unistd::geteuid().is_root() {
                std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
                    .ctx(|| "Can't write setgroups".into())?;
            }
            write_map(pid, "uid_map", &c.uid_map)?;
            write_map(pid, "gid_map", &c.gid_map)?;
        }
        for dir in cgroup.iter().chain(&cgroups_v1) {
            std::fs::write(dir.join("cgroup.procs"), pid.to_string())
                .ctx(|| format!("Can't enter cgroup {}", dir.display()))?;
        }
        if let Some(adj) = c.process.oom_score_adj {
            std::fs::write(format!("/proc/{pid}/oom_score_adj"), adj.to_string())
                .ctx(|| "Can't write oom_score_adj".into())?;
        }
        let st = state::hook_state(&o.id, "creating", pid, bundle);
        super::run_hooks(oci, super::hooks::Kind::CreateRuntime, &st, bundle)?;
        Ok(())
    };
    if let Err(e) = setup() {
        kill();
        return Err(e);
    }
    send_msg(&ours, b"g");
    let landlock = match recv_msg(&ours) {
        Some(m) if m.first() == Some(&b'r') => String::from_utf8_lossy(&m[1..]).into_owned(),
        Some(m) => {
            kill();
            return Err(Error::msg(String::from_utf8_lossy(&m[1..]).into_owned()));
        }
        None => {
            kill();
            return Err(Error::msg("the container process died during its setup"));
        }
    };
    let start_time = state::proc_stat(pid).map(|s| s.0).unwrap_or(0);
    let mut annotations = c.annotations.clone();
    annotations.insert(
        config::HARDENING.into(),
        hardening_summary(c, &landlock, seccomp.len(), oci),
    );
    let saved = Saved {
        id: o.id.clone(),
        pid,
        start_time,
        bundle: bundle.to_path_buf(),
        created: state::now_rfc3339(),
        annotations,
        cgroup,
        cgroups_v1,
        own_userns: c.clone_flags & libc::CLONE_NEWUSER != 0,
    };
    let r = store.save(&saved).and_then(|()| match &o.pid_file {
        Some(p) => write_pid_file(p, pid),
        None => Ok(()),
    });
    if r.is_err() {
        kill();
    }
    r
}

/// What the state's `org.hutch.hardening` annotation says.
fn hardening_summary(
    c: &Container,
    landlock: &str,
    programs: usize,
    oci: &oci_spec::runtime::Spec,
) -> String {
    if !c.hardening {
        return "off".into();
    }
    let seccomp = if oci.linux().as_ref().is_some_and(|l| l.seccomp().is_some()) {
        "bundle profile"
    } else if programs > 0 {
        "hutch default policy"
    } else {
        "none"
    };
    // The Landlock domain comes with no_new_privs, whatever noNewPrivileges says.
    let nnp = if landlock.starts_with("off") {
        ""
    } else {
        "; no_new_privs: on (Landlock)"
    };
    format!("on; landlock: {landlock}; seccomp: {seccomp}{nnp}")
}

/// The container's process: never returns on success (it execs after `start`).
fn container_child(
    c: &Container,
    seccomp: &[Program],
    sync: &OwnedFd,
    stream: Option<std::os::unix::net::UnixStream>,
    fifo: RawFd,
) -> Result<std::convert::Infallible> {
    match recv_msg(sync) {
        Some(m) if m == b"g" => {}
        _ => sys::exit_now(1),
    }
    // In a new user namespace whose map does not name the runtime's own ids (root
    // mapping a range of other ids), become its uid and gid 0 before making anything.
    if c.clone_flags & libc::CLONE_NEWUSER != 0 {
        let (g, u) = (nix::unistd::Gid::from_raw(0), nix::unistd::Uid::from_raw(0));
        if c.gid_map.iter().any(|m| m.0 == 0) {
            nix::unistd::setresgid(g, g, g).ctx(|| "Can't switch to gid 0".into())?;
        }
        if c.uid_map.iter().any(|m| m.0 == 0) {
            nix::unistd::setresuid(u, u, u).ctx(|| "Can't switch to uid 0".into())?;
        }
    }
    if c.clone_flags & libc::CLONE_NEWCGROUP != 0 {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .ctx(|| "Can't make the cgroup namespace".into())?;
    }
    let umask = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    build_root(c)?;
    let slave = match stream {
        Some(s) => Some(console(s, true, c.process.console_size)?),
        None => None,
    };
    session(slave)?;
    if let Some(name) = &c.spec.hostname {
        nix::unistd::sethostname(name).ctx(|| "Can't set the hostname".into())?;
    }
    for (k, v) in &c.sysctl {
        let path = Path::new("/proc/sys").join(k.replace('.', "/"));
        std::fs::write(&path, v).ctx(|| format!("Can't set sysctl {k}={v}"))?;
    }
    if c.clone_flags & libc::CLONE_NEWNET != 0 {
        sys::loopback_up().ctx(|| "Failed to bring up loopback".into())?;
    }
    let landlock = apply_landlock(&c.spec)?;
    let landlock_text = landlock_summary(&landlock);
    let p = &c.process;
    let late_seccomp = p.no_new_privs;
    if !late_seccomp {
        for prog in seccomp {
            prog.install()?;
        }
    }
    set_rlimits(p)?;
    identity(
        p,
        c.clone_flags & libc::CLONE_NEWUSER != 0 || !c.join.is_empty(),
    )?;
    nix::sys::stat::umask(match p.umask {
        Some(m) => nix::sys::stat::Mode::from_bits_truncate(m),
        None => umask,
    });
    nix::unistd::chdir(&p.cwd).ctx(|| format!("Can't chdir to {}", p.cwd.display()))?;
    let (file, argv, envp) = command(p)?;
    if p.no_new_privs {
        nix::sys::prctl::set_no_new_privs().ctx(|| "prctl(PR_SET_NO_NEW_PRIVS)".into())?;
    }
    let mut msg = b"r".to_vec();
    msg.extend_from_slice(landlock_text.as_bytes());
    send_msg(sync, &msg);
    // The gate: `start` writes a byte.
    let mut fifo = std::fs::File::from(sys::own_fd(fifo));
    let mut b = [0u8; 1];
    loop {
        match fifo.read(&mut b) {
            Ok(1) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            _ => sys::exit_now(1),
        }
    }
    drop(fifo);
    finish_exec(p, seccomp, late_seccomp, &file, &argv, &envp)
}

/// The last steps of a container or exec process: descriptors, seccomp, exec.
fn finish_exec(
    p: &Proc,
    seccomp: &[Program],
    late_seccomp: bool,
    file: &CString,
    argv: &[CString],
    envp: &[CString],
) -> Result<std::convert::Infallible> {
    let _ = p;
    sys::cloexec_all_but(&[]).ctx(|| "Can't close inherited file descriptors".into())?;
    if late_seccomp {
        for prog in seccomp {
            prog.install()?;
        }
    }
    let err = sys::exec(file, argv, envp);
    // Past `start` nobody reads the sync socket: stderr is conmon's log.
    let _ = writeln!(
        std::io::stderr(),
        "hutch-oci: exec {}: {}",
        file.to_string_lossy(),
        crate::error::strerror(&err)
    );
    sys::exit_now(if err.raw_os_error() == Some(libc::EACCES) {
        126
    } else {
        127
    })
}

fn landlock_summary(s: &crate::landlock::Status) -> String {
    format!("{} (ABI {}, {} rules)", s.state, s.abi, s.rules)
}

/// Build the container's root: hutch's ops, with the OCI-only steps between them.
fn build_root(c: &Container) -> Result<()> {
    let ops: Vec<_> = c
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Op(op) => Some(op.clone()),
            _ => None,
        })
        .collect();
    let sources = crate::mounts::resolve_sources(&ops)?;
    // The sources of the binds without rbind, resolved on the host as hutch's ops are.
    let mut flat_sources = Vec::new();
    for step in &c.steps {
        if let Step::BindFlat { src, .. } = step {
            flat_sources.push(
                std::fs::canonicalize(src)
                    .ctx(|| format!("Can't find source path {}", src.display()))?,
            );
        }
    }
    let in_pid_ns = c.clone_flags & libc::CLONE_NEWPID != 0
        || c.join
            .iter()
            .any(|(k, _)| k.contains(nix::sched::CloneFlags::CLONE_NEWPID));
    let in_cgroupns = c.clone_flags & libc::CLONE_NEWCGROUP != 0
        || c.join
            .iter()
            .any(|(k, _)| k.contains(nix::sched::CloneFlags::CLONE_NEWCGROUP));
    let in_userns = c.clone_flags & libc::CLONE_NEWUSER != 0
        || c.join
            .iter()
            .any(|(k, _)| k.contains(nix::sched::CloneFlags::CLONE_NEWUSER));
    let mut root = Root::prepare(None)?;
    let mut next_op = 0;
    let mut next_flat = 0;
    let mut copy_from: Option<OwnedFd> = None;
    for step in &c.steps {
        match step {
            Step::Op(op) => {
                root.apply(op, sources[next_op].as_deref(), in_pid_ns)?;
                next_op += 1;
            }
            Step::Sysfs { dest, read_only } => sysfs(&mut root, dest, *read_only)?,
            Step::Cgroup { dest } => {
                if root.find(dest, true).is_ok() {
                    cgroup_mount(&root, dest, in_cgroupns)?;
                }
            }
            Step::Mask(dest) => {
                let Ok(fd) = root.find(dest, false) else {
                    continue;
                };
                let is_dir = nix::sys::stat::fstat(&fd)
                    .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR);
                drop(fd);
                let ops = if is_dir {
                    vec![
                        crate::spec::Op::Tmpfs {
                            dest: dest.clone(),
                            perms: Some(0o755),
                            size: Some(0),
                        },
                        crate::spec::Op::RemountRo { dest: dest.clone() },
                    ]
                } else {
                    vec![crate::spec::Op::Bind {
                        src: "/dev/null".into(),
                        dest: dest.clone(),
                        kind: crate::spec::BindKind::ReadOnly,
                        allow_missing: false,
                    }]
                };
                for op in &ops {
                    root.apply(op, Some(Path::new("/dev/null")), in_pid_ns)
                        .ctx_err(|| format!("maskedPaths {}", dest.display()))?;
                }
            }
            Step::ReadOnly(dest) => {
                if root.find(dest, false).is_ok() {
                    let fd = root.find(dest, false).ctx(|| dest.display().to_string())?;
                    let from = fd_path(fd.as_raw_fd());
                    rbind(&root, &from, dest, true)
                        .ctx(|| format!("readonlyPaths {}", dest.display()))?;
                }
            }
            Step::Device(d) => device(&mut root, d, in_userns, in_pid_ns)?,
            Step::Attrs {
                dest,
                top,
                tree,
                what,
            } => {
                let fd = match root.find(dest, true) {
                    Ok(fd) => fd,
                    // No mount there: the cgroups where the root has no such directory.
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                    Err(e) => return Err(Error::io(format!("{what}: {}", dest.display()), e)),
                };
                for (a, recursive) in [(tree, true), (top, false)] {
                    if a.is_empty() {
                        continue;
                    }
                    let r = sys::mount_setattr_full(
                        fd.as_fd(),
                        a.set,
                        a.clear,
                        a.propagation,
                        recursive,
                    );
                    if let Err(e) = r {
                        let hint = if in_userns && e.raw_os_error() == Some(libc::EPERM) {
                            " (in a user namespace the kernel keeps the flags of a host's \
                             mount, access times included, as they are)"
                        } else {
                            ""
                        };
                        return Err(Error::msg(format!(
                            "{what}: Can't apply the options on {}: {}{hint}",
                            dest.display(),
                            crate::error::strerror(&e)
                        )));
                    }
                }
            }
            Step::BindFlat { src, dest, kind } => {
                let from = Path::new("/oldroot").join(
                    flat_sources[next_flat]
                        .strip_prefix("/")
                        .unwrap_or(&flat_sources[next_flat]),
                );
                next_flat += 1;
                bind_flat(&root, &from, dest, *kind).ctx_err(|| {
                    format!("Can't bind mount {} on {}", src.display(), dest.display())
                })?;
            }
            Step::CopyUpFrom(dest) => {
                copy_from = root.find(dest, true).ok().and_then(|fd| {
                    nix::fcntl::open(
                        &fd_path(fd.as_raw_fd()),
                        nix::fcntl::OFlag::O_RDONLY
                            | nix::fcntl::OFlag::O_DIRECTORY
                            | nix::fcntl::OFlag::O_CLOEXEC,
                        nix::sys::stat::Mode::empty(),
                    )
                    .ok()
                });
            }
            Step::CopyUpInto(dest) => {
                let Some(from) = copy_from.take() else {
                    continue;
                };
                let into = root
                    .find(dest, true)
                    .ctx(|| format!("tmpcopyup: {}", dest.display()))?;
                copy_tree(&fd_path(from.as_raw_fd()), &fd_path(into.as_raw_fd()), dest)?;
            }
            Step::TmpfsSize(size) => root.set_tmpfs_size(*size),
            Step::Devpts { dest, data } => devpts(&root, dest, data)?,
        }
    }
    root.finish()?;
    // Every mount below the new root is a slave of the host's (src/stage/mounts.rs);
    // `linux.rootfsPropagation` private/rprivate cuts them off from the host's events.
    if c.rootfs_private {
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .ctx(|| "linux.rootfsPropagation: make / private".into())?;
    }
    Ok(())
}

/// A bind of `from` (seen from the base) on `dest` without its submounts (`bind`
/// without `rbind`).
fn bind_flat(root: &Root, from: &Path, dest: &Path, kind: crate::spec::BindKind) -> Result<()> {
    use crate::spec::BindKind;
    let target = root.bind_target(from, dest)?;
    let tree = sys::open_tree(
        libc::AT_FDCWD,
        from,
        sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC,
    )
    .ctx(|| from.display().to_string())?;
    let attrs = match kind {
        BindKind::ReadOnly => {
            sys::MOUNT_ATTR_RDONLY | sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV
        }
        BindKind::ReadWrite => sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV,
        BindKind::Dev => sys::MOUNT_ATTR_NOSUID,
    };
    sys::mount_setattr_fd(tree.as_fd(), attrs, false).ctx(|| "mount_setattr".into())?;
    sys::move_mount_fd(tree.as_fd(), target.as_fd()).ctx(|| "move_mount".into())
}

/// `tmpcopyup`: what was under the tmpfs (`from`, seen from the base) copied into it
/// (`into`), with owners, modes and extended attributes, as crun does; `dest` names it
/// in errors.
fn copy_tree(from: &Path, into: &Path, dest: &Path) -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
    let entries = std::fs::read_dir(from).ctx(|| format!("tmpcopyup: {}", dest.display()))?;
    for entry in entries {
        let entry = entry.ctx(|| format!("tmpcopyup: {}", dest.display()))?;
        let name = entry.file_name();
        let (src, dst, inside) = (from.join(&name), into.join(&name), dest.join(&name));
        let ctx = || format!("tmpcopyup: {}", inside.display());
        let md = std::fs::symlink_metadata(&src).ctx(ctx)?;
        let ft = md.file_type();
        let open = |p: &Path, dir: bool| {
            let flags = libc::O_NOFOLLOW | if dir { libc::O_DIRECTORY } else { 0 };
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(flags)
                .open(p)
        };
        // Files and directories, as crun: the source and the copy, for their
        // extended attributes.
        let mut pair = None;
        if ft.is_dir() {
            std::fs::create_dir(&dst).ctx(ctx)?;
            copy_tree(&src, &dst, &inside)?;
            pair = Some((open(&src, true).ctx(ctx)?, open(&dst, true).ctx(ctx)?));
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&src).ctx(ctx)?;
            std::os::unix::fs::symlink(target, &dst).ctx(ctx)?;
        } else if ft.is_file() {
            let mut r = open(&src, false).ctx(ctx)?;
            let mut w = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&dst)
                .ctx(ctx)?;
            std::io::copy(&mut r, &mut w).ctx(ctx)?;
            pair = Some((r, w));
        } else if ft.is_fifo() || ft.is_socket() || ft.is_char_device() || ft.is_block_device() {
            nix::sys::stat::mknod(
                &dst,
                nix::sys::stat::SFlag::from_bits_truncate(md.mode() & libc::S_IFMT),
                nix::sys::stat::Mode::from_bits_truncate(md.mode() & 0o7777),
                md.rdev(),
            )
            .ctx(ctx)?;
        }
        std::os::unix::fs::lchown(&dst, Some(md.uid()), Some(md.gid())).ctx(ctx)?;
        // After the owner, whose change would clear a file capability.
        if let Some((r, w)) = &pair {
            copy_xattrs(r.as_fd(), w.as_fd()).ctx(ctx)?;
        }
        if !ft.is_symlink() {
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))
                .ctx(ctx)?;
        }
    }
    Ok(())
}

/// Every extended attribute of `from` set on `to`, but those the tmpfs does not take
/// (EOPNOTSUPP, EINVAL: `user.` before Linux 6.6, `security.selinux` without
/// SELinux), which crun skips too.
fn copy_xattrs(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> std::io::Result<()> {
    for name in sys::flistxattr(from)? {
        let value = sys::fgetxattr(from, &name)?;
        match sys::fsetxattr(to, &name, &value) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EINVAL)) => {}
            r => r?,
        }
    }
    Ok(())
}

/// hutch's devpts on `dest`, remounted with the bundle's `gid=`/`mode=`/`ptmxmode=`.
fn devpts(root: &Root, dest: &Path, data: &str) -> Result<()> {
    let gid = data
        .split(',')
        .find_map(|o| o.strip_prefix("gid="))
        .and_then(|g| g.parse::<u32>().ok());
    if let Some(g) = gid {
        // The kernel takes only a group of the mounting user namespace (EINVAL else).
        let map = std::fs::read_to_string("/oldroot/proc/self/gid_map").unwrap_or_default();
        let mapped = map.lines().any(|l| {
            let n: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            n.len() == 3 && (n[0]..n[0] + n[2]).contains(&u64::from(g))
        });
        if !mapped {
            return Err(Error::msg(format!(
                "mounts: devpts option gid={g}: group {g} is not mapped in the container's \
                 user namespace (crun fails the same way; podman and `crun spec --rootless` \
                 leave gid= out then)"
            )));
        }
    }
    let fd = root
        .find(dest, true)
        .ctx(|| format!("devpts {}", dest.display()))?;
    nix::mount::mount(
        None::<&str>,
        &fd_path(fd.as_raw_fd()),
        None::<&str>,
        nix::mount::MsFlags::MS_REMOUNT
            | nix::mount::MsFlags::MS_NOSUID
            | nix::mount::MsFlags::MS_NOEXEC,
        Some(data),
    )
    .ctx(|| format!("mounts: devpts on {} with {data}", dest.display()))
}

fn type_name(kind: u32) -> &'static str {
    match kind {
        libc::S_IFCHR => "character device",
        libc::S_IFBLK => "block device",
        libc::S_IFIFO => "fifo",
        libc::S_IFDIR => "directory",
        libc::S_IFREG => "regular file",
        _ => "special file",
    }
}

/// A node of `linux.devices`: made with mknod (with the mode and owner asked for) as
/// real root without a user namespace, or a fifo, as runc and crun do; else the host's
/// node, bound, which must be the device asked for.
fn device(root: &mut Root, d: &config::Device, in_userns: bool, in_pid_ns: bool) -> Result<()> {
    use nix::sys::stat::{makedev, Mode, SFlag};
    let path = &d.path;
    let rdev = makedev(d.major, d.minor);
    if !in_userns || d.kind == libc::S_IFIFO {
        let ctx = || format!("linux.devices: Can't make {}", path.display());
        let parent = path.parent().unwrap_or(Path::new("/"));
        root.apply(
            &crate::spec::Op::Dir {
                dest: parent.to_path_buf(),
                perms: None,
            },
            None,
            false,
        )?;
        let dir = root.find(parent, true).ctx(ctx)?;
        let name = path.file_name().ok_or_else(|| Error::msg(ctx()))?;
        let make = || {
            nix::sys::stat::mknodat(
                dir.as_fd(),
                name,
                SFlag::from_bits_truncate(d.kind),
                Mode::from_bits_truncate(d.mode),
                rdev,
            )
        };
        match make() {
            // Already there (in the image): kept if it is the device asked for.
            Err(nix::errno::Errno::EEXIST) => {
                let st =
                    nix::sys::stat::fstatat(&dir, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                        .ctx(ctx)?;
                if st.st_mode & libc::S_IFMT != d.kind
                    || (d.kind != libc::S_IFIFO && st.st_rdev != rdev)
                {
                    return Err(Error::msg(format!(
                        "linux.devices: {} exists in the container and is not the {} {}:{} \
                         asked for",
                        path.display(),
                        type_name(d.kind),
                        d.major,
                        d.minor
                    )));
                }
            }
            r => r.ctx(ctx)?,
        }
        nix::unistd::fchownat(
            &dir,
            name,
            Some(nix::unistd::Uid::from_raw(d.uid)),
            Some(nix::unistd::Gid::from_raw(d.gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ctx(ctx)?;
        let node = root.find(path, false).ctx(ctx)?;
        nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            &fd_path(node.as_raw_fd()),
            Mode::from_bits_truncate(d.mode),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        )
        .ctx(ctx)?;
        if d.kind != libc::S_IFIFO {
            // hutch's /dev is nodev: the node, bound on itself, is a mount that is not.
            let tree = sys::open_tree(
                libc::AT_FDCWD,
                &fd_path(node.as_raw_fd()),
                sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC,
            )
            .ctx(ctx)?;
            sys::mount_setattr_full(
                tree.as_fd(),
                sys::MOUNT_ATTR_NOSUID,
                sys::MOUNT_ATTR_NODEV,
                0,
                false,
            )
            .ctx(ctx)?;
            sys::move_mount_fd(tree.as_fd(), node.as_fd()).ctx(ctx)?;
        }
        return Ok(());
    }
    let host = Path::new("/oldroot").join(path.strip_prefix("/").unwrap_or(path));
    let st = nix::sys::stat::stat(&host).map_err(|_| {
        Error::msg(format!(
            "linux.devices: {} does not exist on the host (in a user namespace hutch binds \
             the host's node, as crun does: it cannot make one)",
            path.display()
        ))
    })?;
    if st.st_mode & libc::S_IFMT != d.kind || st.st_rdev != rdev {
        return Err(Error::msg(format!(
            "linux.devices: {} on the host is a {} {}:{}, not the {} {}:{} asked for (in a \
             user namespace hutch binds the host's node)",
            path.display(),
            type_name(st.st_mode & libc::S_IFMT),
            nix::sys::stat::major(st.st_rdev),
            nix::sys::stat::minor(st.st_rdev),
            type_name(d.kind),
            d.major,
            d.minor
        )));
    }
    root.apply(
        &crate::spec::Op::Bind {
            src: path.clone(),
            dest: path.clone(),
            kind: crate::spec::BindKind::Dev,
            allow_missing: false,
        },
        Some(path),
        in_pid_ns,
    )
}

fn fd_path(fd: RawFd) -> PathBuf {
    PathBuf::from(format!("/oldroot/proc/self/fd/{fd}"))
}

/// A recursive bind of `from` (seen from the base) onto `dest` in the new root.
fn rbind(root: &Root, from: &Path, dest: &Path, read_only: bool) -> std::io::Result<()> {
    let target = root.find(dest, true)?;
    let tree = sys::open_tree(
        libc::AT_FDCWD,
        from,
        sys::OPEN_TREE_CLONE | sys::OPEN_TREE_CLOEXEC | sys::AT_RECURSIVE,
    )?;
    let mut attrs = sys::MOUNT_ATTR_NOSUID | sys::MOUNT_ATTR_NODEV;
    if read_only {
        attrs |= sys::MOUNT_ATTR_RDONLY;
    }
    sys::mount_setattr_fd(tree.as_fd(), attrs, true)?;
    sys::move_mount_fd(tree.as_fd(), target.as_fd())
}

/// `cgroup`/`cgroup2` on `dest`, read-only. In a cgroup namespace on a cgroup v2 host
/// (cgroup2 on /sys/fs/cgroup), a new cgroup2 mount, which shows the namespace's root
/// (the container's cgroup) and what is below it, as crun mounts it; else, or where the
/// kernel refuses one, the host's /sys/fs/cgroup (its whole tree).
fn cgroup_mount(root: &Root, dest: &Path, in_cgroupns: bool) -> Result<()> {
    let host = Path::new("/oldroot/sys/fs/cgroup");
    let v2 = nix::sys::statfs::statfs(host)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    if in_cgroupns && v2 {
        let fd = root.find(dest, true).ctx(|| dest.display().to_string())?;
        let flags = nix::mount::MsFlags::MS_NOSUID
            | nix::mount::MsFlags::MS_NODEV
            | nix::mount::MsFlags::MS_NOEXEC
            | nix::mount::MsFlags::MS_RDONLY;
        let target = fd_path(fd.as_raw_fd());
        match nix::mount::mount(
            Some("cgroup2"),
            &target,
            Some("cgroup2"),
            flags,
            None::<&str>,
        ) {
            Ok(()) => return Ok(()),
            Err(nix::errno::Errno::EPERM) => {}
            Err(e) => {
                return Err(Error::io(
                    format!("Can't mount cgroup2 on {}", dest.display()),
                    e.into(),
                ))
            }
        }
    }
    rbind(root, host, dest, true).ctx(|| format!("Can't bind the cgroups on {}", dest.display()))
}

/// A new sysfs on `dest`, or the host's read-only where the kernel refuses one.
fn sysfs(root: &mut Root, dest: &Path, read_only: bool) -> Result<()> {
    root.apply(
        &crate::spec::Op::Dir {
            dest: dest.to_path_buf(),
            perms: None,
        },
        None,
        false,
    )?;
    let fd = root.find(dest, true).ctx(|| dest.display().to_string())?;
    let mut flags = nix::mount::MsFlags::MS_NOSUID
        | nix::mount::MsFlags::MS_NODEV
        | nix::mount::MsFlags::MS_NOEXEC;
    if read_only {
        flags |= nix::mount::MsFlags::MS_RDONLY;
    }
    let target = fd_path(fd.as_raw_fd());
    match nix::mount::mount(Some("sysfs"), &target, Some("sysfs"), flags, None::<&str>) {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EPERM) => rbind(root, Path::new("/oldroot/sys"), dest, true)
            .ctx(|| format!("Can't bind /sys on {}", dest.display())),
        Err(e) => Err(Error::io(
            format!("Can't mount sysfs on {}", dest.display()),
            e.into(),
        )),
    }
}

trait CtxErr<T> {
    fn ctx_err(self, f: impl FnOnce() -> String) -> Result<T>;
}

impl<T> CtxErr<T> for Result<T> {
    fn ctx_err(self, f: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::msg(format!("{}: {e}", f())))
    }
}

fn set_rlimits(p: &Proc) -> Result<()> {
    for (res, soft, hard) in &p.rlimits {
        nix::sys::resource::setrlimit(*res, *soft, *hard)
            .ctx(|| format!("Can't set rlimit {res:?} to {soft}:{hard}"))?;
    }
    Ok(())
}

fn mask(set: &std::collections::HashSet<caps::Capability>) -> u64 {
    set.iter().fold(0, |m, c| m | 1u64 << c.index())
}

/// The process's user, groups and capability sets, from full privilege.
fn identity(p: &Proc, in_userns: bool) -> Result<()> {
    let CapSets {
        bounding,
        effective,
        permitted,
        inheritable,
        ambient,
    } = &p.caps;
    for cap in crate::caps::supported() {
        if !bounding.contains(&cap) {
            match sys::capbset_drop(cap.index() as u32) {
                Err(e) if e.raw_os_error() != Some(libc::EINVAL) => {
                    return Err(Error::io("Can't drop bounding capabilities", e))
                }
                _ => {}
            }
        }
    }
    nix::sys::prctl::set_keepcaps(true).ctx(|| "prctl(PR_SET_KEEPCAPS)".into())?;
    let groups: Vec<_> = p
        .groups
        .iter()
        .map(|g| nix::unistd::Gid::from_raw(*g))
        .collect();
    match nix::unistd::setgroups(&groups) {
        Ok(()) => {}
        // A user namespace whose setgroups is denied keeps its (single) group.
        Err(nix::errno::Errno::EPERM) if in_userns && groups.is_empty() => {}
        Err(e) => {
            return Err(Error::io(
                format!("Can't set additional groups {:?}", p.groups),
                e.into(),
            ))
        }
    }
    let g = nix::unistd::Gid::from_raw(p.gid);
    nix::unistd::setresgid(g, g, g).ctx(|| format!("Can't switch to gid {}", p.gid))?;
    let u = nix::unistd::Uid::from_raw(p.uid);
    nix::unistd::setresuid(u, u, u).ctx(|| format!("Can't switch to uid {}", p.uid))?;
    nix::sys::prctl::set_keepcaps(false).ctx(|| "prctl(PR_SET_KEEPCAPS)".into())?;
    sys::capset(mask(effective), mask(permitted), mask(inheritable))
        .ctx(|| "Can't set capabilities".into())?;
    for cap in ambient {
        match sys::ambient_raise(cap.index() as u32) {
            Ok(()) => {}
            // As crun: an ambient capability the kernel refuses (one not both permitted
            // and inheritable, as `crun spec` and `runc spec` ask) is left out.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EINVAL)) => {}
            Err(e) => {
                return Err(Error::io(
                    format!("Can't raise ambient capability {cap}"),
                    e,
                ))
            }
        }
    }
    Ok(())
}

fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::msg(format!("NUL byte in {s:?}")))
}

/// The command, looked up as runc does: on the process's PATH, with the error
/// wording podman turns into 127 (not found) and 126 (not executable).
fn command(p: &Proc) -> Result<(CString, Vec<CString>, Vec<CString>)> {
    let argv: Vec<CString> = p.args.iter().map(|a| cstr(a)).collect::<Result<_>>()?;
    let envp: Vec<CString> = p
        .env
        .iter()
        .map(|(k, v)| cstr(&format!("{k}={v}")))
        .collect::<Result<_>>()?;
    let name = &p.args[0];
    let check = |path: &Path| -> std::io::Result<()> {
        let md = std::fs::metadata(path)?;
        if md.is_dir() {
            return Err(std::io::Error::from_raw_os_error(libc::EACCES));
        }
        nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).map_err(Into::into)
    };
    let file = if name.contains('/') {
        match check(Path::new(name)) {
            Ok(()) => PathBuf::from(name),
            Err(e) if e.raw_os_error() == Some(libc::EACCES) => {
                return Err(Error::msg(format!("exec: \"{name}\": permission denied")))
            }
            Err(_) => {
                return Err(Error::msg(format!(
                    "exec: \"{name}\": stat {name}: no such file or directory"
                )))
            }
        }
    } else {
        let path = p
            .env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str())
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        let mut denied = false;
        let mut found = None;
        for dir in path.split(':') {
            let cand = Path::new(if dir.is_empty() { "." } else { dir }).join(name);
            match check(&cand) {
                Ok(()) => {
                    found = Some(cand);
                    break;
                }
                Err(e) if e.raw_os_error() == Some(libc::EACCES) => denied = true,
                Err(_) => {}
            }
        }
        match found {
            Some(f) => f,
            None if denied => {
                return Err(Error::msg(format!("exec: \"{name}\": permission denied")))
            }
            None => {
                return Err(Error::msg(format!(
                    "exec: \"{name}\": executable file not found in $PATH"
                )))
            }
        }
    };
    Ok((
        CString::new(file.as_os_str().as_bytes()).map_err(|_| Error::msg("NUL in path"))?,
        argv,
        envp,
    ))
}

/// `start`.
pub fn start(store: &Store, id: &str) -> Result<()> {
    let s = store.load(id)?;
    let st = state::status(store, &s);
    if st != Status::Created {
        return Err(Error::msg(format!(
            "container {id} is not in the created state: {}",
            st.name()
        )));
    }
    let fifo = store.fifo(id);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo)
        .ctx(|| format!("Can't open {}", fifo.display()))?;
    let _ = std::fs::remove_file(&fifo);
    f.write_all(b"s")
        .ctx(|| "Can't start the container".into())?;
    let oci = config::load(&s.bundle)?;
    let hs = state::hook_state(id, "running", s.pid, &s.bundle);
    super::run_hooks(&oci, super::hooks::Kind::Poststart, &hs, &s.bundle)?;
    Ok(())
}

use std::os::unix::fs::OpenOptionsExt;

/// A signal by name (`TERM`, `SIGTERM`) or number.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    if let Ok(sig) = nix::sys::signal::Signal::from_str(&name) {
        return Ok(sig as i32);
    }
    Err(Error::msg(format!("kill: unknown signal {s:?}")))
}

use std::str::FromStr;

/// `kill [--all] ID SIGNAL`.
pub fn kill(store: &Store, id: &str, signal: &str, all: bool) -> Result<()> {
    let sig = parse_signal(signal)?;
    let s = store.load(id)?;
    if !state::alive(&s) {
        return Err(Error::msg(format!("container {id} is not running")));
    }
    let pidfd = sys::pidfd_open(s.pid).ctx(|| format!("pidfd_open {}", s.pid))?;
    // The pid is checked again behind the pidfd: it is still the container's.
    if !state::alive(&s) {
        return Err(Error::msg(format!("container {id} is not running")));
    }
    if all {
        if let Some(cg) = &s.cgroup {
            if let Ok(procs) = std::fs::read_to_string(cg.join("cgroup.procs")) {
                for p in procs.lines().filter_map(|l| l.parse::<i32>().ok()) {
                    if p != s.pid {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(p),
                            nix::sys::signal::Signal::try_from(sig).ok(),
                        );
                    }
                }
            }
        }
    }
    sys::pidfd_send_signal(pidfd.as_fd(), sig).ctx(|| format!("kill {id}"))
}

/// Wait until the pidfd polls readable (the process ended), up to `ms`.
fn wait_pidfd(fd: &OwnedFd, ms: u16) -> bool {
    let mut fds = [nix::poll::PollFd::new(
        fd.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    matches!(nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)), Ok(n) if n > 0)
}

/// `delete [--force] ID`.
pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let s = match store.load(id) {
        Ok(s) => s,
        // As runc: --force on a container that is not there is no error (podman
        // cleans up so after a failed create).
        Err(_) if force && super::state::check_id(id).is_ok() && !store.dir(id).exists() => {
            return Ok(())
        }
        Err(e) => return Err(e),
    };
    let st = state::status(store, &s);
    if st != Status::Stopped {
        if !force && st != Status::Created {
            return Err(Error::msg(format!(
                "cannot delete container {id} that is not stopped: {}",
                st.name()
            )));
        }
        if let Ok(pidfd) = sys::pidfd_open(s.pid) {
            if state::alive(&s) {
                if let Some(cg) = &s.cgroup {
                    let _ = std::fs::write(cg.join("cgroup.freeze"), "0");
                }
                let _ = sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL);
                wait_pidfd(&pidfd, 5000);
            }
        }
    }
    for cg in s.cgroup.iter().chain(&s.cgroups_v1) {
        remove_cgroup(cg);
    }
    store.remove(id)?;
    if let Ok(oci) = config::load(&s.bundle) {
        let hs = state::hook_state(id, "stopped", s.pid, &s.bundle);
        // poststop failures are warnings, not errors (the OCI spec says so).
        if let Err(e) = super::run_hooks(&oci, super::hooks::Kind::Poststop, &hs, &s.bundle) {
            eprintln!("hutch-oci: {e}");
        }
    }
    Ok(())
}

/// `pause` and `resume`: the cgroup v2 freezer of the container's cgroup.
pub fn freeze(store: &Store, id: &str, on: bool) -> Result<()> {
    let s = store.load(id)?;
    let what = if on { "pause" } else { "resume" };
    if !state::alive(&s) {
        return Err(Error::msg(format!("container {id} is not running")));
    }
    let Some(cg) = &s.cgroup else {
        return Err(Error::msg(format!(
            "{what}: container {id} has no cgroup of its own (no linux.cgroupsPath, or no cgroup v2 here): hutch cannot freeze it"
        )));
    };
    std::fs::write(cg.join("cgroup.freeze"), if on { "1" } else { "0" })
        .ctx(|| format!("{what}: {}", cg.join("cgroup.freeze").display()))
}

/// The namespaces of `pid` that differ from ours, user first, mount last.
fn namespaces_of(pid: i32) -> Result<Vec<(nix::sched::CloneFlags, std::fs::File)>> {
    use nix::sched::CloneFlags as F;
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for (name, flag) in [
        ("user", F::CLONE_NEWUSER),
        ("ipc", F::CLONE_NEWIPC),
        ("uts", F::CLONE_NEWUTS),
        ("net", F::CLONE_NEWNET),
        ("pid", F::CLONE_NEWPID),
        ("cgroup", F::CLONE_NEWCGROUP),
        ("mnt", F::CLONE_NEWNS),
    ] {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let (Ok(a), Ok(b)) = (
            std::fs::metadata(&theirs),
            std::fs::metadata(format!("/proc/self/ns/{name}")),
        ) else {
            continue;
        };
        if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
            continue;
        }
        let f = std::fs::File::open(&theirs).ctx(|| format!("Can't open {theirs}"))?;
        out.push((flag, f));
    }
    Ok(out)
}

/// `exec`: a new process in a running container. Returns the exit status.
pub fn exec(store: &Store, o: &ExecOpts) -> Result<i32> {
    let s = store.load(&o.id)?;
    if !state::alive(&s) {
        return Err(Error::msg(format!("container {} is not running", o.id)));
    }
    let text = std::fs::read_to_string(&o.process)
        .ctx(|| format!("Can't read --process {}", o.process.display()))?;
    let process: oci_spec::runtime::Process = serde_json::from_str(&text)
        .map_err(|e| Error::msg(format!("--process {}: {e}", o.process.display())))?;
    let mut p = config::process(&process)?;
    if let Some(tty) = o.tty {
        p.terminal = tty;
    }
    let oci = config::load(&s.bundle)?;
    let c = config::container(&s.bundle, &oci)?;
    let seccomp = seccomp_programs(&oci, &c)?;
    let nss = namespaces_of(s.pid)?;
    let stream = match p.terminal {
        true => Some(console_socket(o.console_socket.as_deref())?),
        false => None,
    };
    let (ours, theirs) = seqpacket()?;
    let pidfd = sys::pidfd_open(s.pid).ctx(|| "pidfd_open".into())?;
    if !state::alive(&s) {
        return Err(Error::msg(format!("container {} is not running", o.id)));
    }
    let first = sys::fork().ctx(|| "fork".into())?;
    if first == 0 {
        drop(ours);
        // The container's cgroups, by their host paths: before the mount namespace changes.
        for cg in s.cgroup.iter().chain(&s.cgroups_v1) {
            let _ = std::fs::write(cg.join("cgroup.procs"), "0");
        }
        for (flag, f) in &nss {
            if let Err(e) = nix::sched::setns(f.as_fd(), *flag) {
                fail_child(
                    &theirs,
                    Error::io(format!("Can't join the container's {flag:?}"), e.into()),
                );
            }
        }
        drop(nss);
        let pid = match sys::fork() {
            Ok(pid) => pid,
            Err(e) => fail_child(&theirs, Error::io("fork", e)),
        };
        if pid == 0 {
            let r = exec_child(&c, &p, &seccomp, stream, &s);
            fail_child(&theirs, r.unwrap_err());
        }
        send_msg(&theirs, format!("p{pid}").as_bytes());
        drop(theirs);
        if o.detach {
            sys::exit_now(0);
        }
        let code = wait_code(pid);
        sys::exit_now(code);
    }
    drop(theirs);
    drop(stream);
    drop(pidfd);
    let mut pid = None;
    let mut error = None;
    while let Some(m) = recv_msg(&ours) {
        match m.first() {
            Some(b'p') => pid = String::from_utf8_lossy(&m[1..]).parse::<i32>().ok(),
            Some(b'e') => error = Some(String::from_utf8_lossy(&m[1..]).into_owned()),
            _ => {}
        }
    }
    if let Some(e) = error {
        let _ = wait_code(first);
        return Err(Error::msg(e));
    }
    let Some(pid) = pid else {
        let _ = wait_code(first);
        return Err(Error::msg("the exec process died during its setup"));
    };
    if o.detach {
        let _ = wait_code(first);
        if let Some(p) = &o.pid_file {
            write_pid_file(p, pid)?;
        }
        return Ok(0);
    }
    if let Some(p) = &o.pid_file {
        write_pid_file(p, pid)?;
    }
    Ok(wait_code(first))
}

fn wait_code(pid: i32) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 1,
        }
    }
}

/// The exec'd process, inside the container's namespaces.
fn exec_child(
    c: &Container,
    p: &Proc,
    seccomp: &[Program],
    stream: Option<std::os::unix::net::UnixStream>,
    s: &Saved,
) -> Result<std::convert::Infallible> {
    let slave = match stream {
        Some(st) => Some(console(st, false, p.console_size)?),
        None => None,
    };
    session(slave)?;
    if c.hardening {
        apply_landlock(&c.spec)?;
    }
    if !p.no_new_privs {
        for prog in seccomp {
            prog.install()?;
        }
    }
    set_rlimits(p)?;
    identity(p, s.own_userns || !c.join.is_empty())?;
    if let Some(m) = p.umask {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(m));
    }
    nix::unistd::chdir(&p.cwd).ctx(|| format!("Can't chdir to {}", p.cwd.display()))?;
    let (file, argv, envp) = command(p)?;
    if p.no_new_privs {
        nix::sys::prctl::set_no_new_privs().ctx(|| "prctl(PR_SET_NO_NEW_PRIVS)".into())?;
    }
    finish_exec(p, seccomp, p.no_new_privs, &file, &argv, &envp)
}

/// hutch's Landlock rules for the container, derived from its mounts as the sandbox's
/// plan derives them (src/plan.rs), on the kernel's ABI.
fn apply_landlock(spec: &crate::spec::Spec) -> Result<crate::landlock::Status> {
    let ll = &spec.landlock;
    let abi = sys::landlock_abi();
    let rules = crate::landlock::path_rules(ll, &spec.ops, false);
    let dropped = if ll.enabled() {
        crate::landlock::unsupported(ll, abi)
    } else {
        Vec::new()
    };
    crate::landlock::apply(ll, abi, &dropped, &rules)
}
