//! Resource limits and accounting.
//!
//! - Parsing: `--memory`, `--memory-swap`, `--cpus`, `--pids`, `--io-weight` (applied
//!   through cgroup v2, see `cgroup.rs`), `--rlimit` (setrlimit in the command just before
//!   exec), `--timeout`, `--stats`/`--stats-fd` and `--cgroup`. Sizes and durations follow
//!   hutch's conventions (DESIGN.md): `200M`, `1.5`, `500ms`.
//! - The monitor side, [`Guard`]: started before the child is cloned (the clock, the
//!   cgroup the child is born in); a watchdog thread kills the whole sandbox when the
//!   `--timeout` deadline passes; at the end it ends the cgroup and writes `--stats`.

use std::ffi::OsString;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, setrlimit, Resource, UsageWho, RLIM_INFINITY};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::cgroup::{self, Cgroup};
use crate::error::{Error, Messages, Result};
use crate::spec::Spec;
use crate::sys;
// The limits' plain data lives with the rest of the Spec (src/spec.rs); its
// parsing and application are here.
pub use crate::spec::{CgroupMode, Limits, Rlimit, RlimitName, StatsTo, CPU_PERIOD_US};
use crate::units::{format_duration, parse_count, parse_decimal, parse_duration, parse_size};

/// hutch's exit status when `--timeout` ends the sandbox, as timeout(1).
pub const TIMEOUT_STATUS: i32 = 124;

/// Under the hutch name, the process bound (`RLIMIT_NPROC`) when no `--rlimit nproc` is given.
pub const DEFAULT_NPROC: u64 = 4096;

/// Under the hutch name, the largest default tmpfs bound: a quarter of RAM, at most 4 GiB.
pub const DEFAULT_TMPFS_MAX: u64 = 4 << 30;

/// The default size bound of each tmpfs hutch makes under the hutch name:
/// min(RAM / 4, 4 GiB), rounded down to a MiB (at least 64 MiB).
pub fn default_tmpfs_size() -> u64 {
    let ram = nix::sys::sysinfo::sysinfo()
        .map(|i| i.ram_total())
        .unwrap_or(DEFAULT_TMPFS_MAX * 4);
    ((ram / 4).min(DEFAULT_TMPFS_MAX) >> 20).max(64) << 20
}

/// Since Linux 5.14 `RLIMIT_NPROC` is counted per (user namespace, uid) and up the chain of
/// namespaces: in a sandbox with its own user namespace it counts the sandbox's processes
/// and threads only. Before, it counted every process of the uid on the host.
pub fn nproc_counted_per_userns(kernel: (u32, u32)) -> bool {
    kernel >= (5, 14)
}

impl RlimitName {
    const ALL: [(&'static str, RlimitName); 9] = [
        ("as", RlimitName::As),
        ("core", RlimitName::Core),
        ("cpu", RlimitName::Cpu),
        ("data", RlimitName::Data),
        ("fsize", RlimitName::Fsize),
        ("memlock", RlimitName::Memlock),
        ("nofile", RlimitName::Nofile),
        ("nproc", RlimitName::Nproc),
        ("stack", RlimitName::Stack),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, r)| *r == self)
            .map_or("?", |(n, _)| n)
    }

    /// Sizes take k/M/G suffixes; cpu is seconds; nofile and nproc are counts.
    fn is_size(self) -> bool {
        !matches!(
            self,
            RlimitName::Cpu | RlimitName::Nofile | RlimitName::Nproc
        )
    }

    fn resource(self) -> Resource {
        match self {
            RlimitName::As => Resource::RLIMIT_AS,
            RlimitName::Core => Resource::RLIMIT_CORE,
            RlimitName::Cpu => Resource::RLIMIT_CPU,
            RlimitName::Data => Resource::RLIMIT_DATA,
            RlimitName::Fsize => Resource::RLIMIT_FSIZE,
            RlimitName::Memlock => Resource::RLIMIT_MEMLOCK,
            RlimitName::Nofile => Resource::RLIMIT_NOFILE,
            RlimitName::Nproc => Resource::RLIMIT_NPROC,
            RlimitName::Stack => Resource::RLIMIT_STACK,
        }
    }
}

impl std::fmt::Display for Rlimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = |x: Option<u64>| x.map_or("unlimited".to_string(), |n| n.to_string());
        write!(f, "{}={}:{}", self.name.name(), v(self.soft), v(self.hard))
    }
}

fn bad(flag: &str, what: &str, value: &str, hint: &str) -> Error {
    Error::msg(format!("{flag}: invalid {what} \"{value}\" ({hint})"))
}

/// `NAME=SOFT[:HARD]`.
pub fn parse_rlimit(s: &str) -> Result<Rlimit> {
    let fail = |hint: String| bad("--rlimit", "limit", s, &hint);
    let names = || {
        RlimitName::ALL
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((name, value)) = s.split_once('=') else {
        return Err(fail(format!(
            "use NAME=SOFT[:HARD] with NAME one of {}",
            names()
        )));
    };
    let Some(&(_, rname)) = RlimitName::ALL.iter().find(|(n, _)| *n == name) else {
        return Err(fail(format!(
            "unknown resource {name:?}; use one of {}",
            names()
        )));
    };
    let one = |v: &str| -> Result<Option<u64>> {
        if v == "unlimited" || v == "infinity" {
            return Ok(None);
        }
        let n = if rname.is_size() {
            parse_size(v)
        } else {
            parse_count(v)
        };
        match n {
            Some(n) if n != RLIM_INFINITY => Ok(Some(n)),
            _ if rname.is_size() => Err(fail(format!(
                "{name} takes bytes with an optional k/M/G suffix, or unlimited"
            ))),
            _ if rname == RlimitName::Cpu => {
                Err(fail("cpu takes whole seconds, or unlimited".to_string()))
            }
            _ => Err(fail(format!("{name} takes a whole number, or unlimited"))),
        }
    };
    let (soft, hard) = match value.split_once(':') {
        Some((s, h)) => (one(s)?, one(h)?),
        None => {
            let v = one(value)?;
            (v, v)
        }
    };
    if soft.unwrap_or(RLIM_INFINITY) > hard.unwrap_or(RLIM_INFINITY) {
        return Err(fail("the soft limit is above the hard limit".to_string()));
    }
    Ok(Rlimit {
        name: rname,
        soft,
        hard,
    })
}

impl Limits {
    /// Parse one of the flags whose row in `flags.rs` says `Handler::Limits`, with its values.
    pub fn parse_flag(&mut self, name: &str, values: &[OsString]) -> Result<()> {
        let v = values
            .first()
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default();
        let v = v.as_str();
        match name {
            "--memory" | "--memory-swap" => {
                let n = parse_size(v)
                    .filter(|n| *n > 0 || name == "--memory-swap")
                    .ok_or_else(|| bad(name, "size", v, "use bytes or a k/M/G suffix"))?;
                if name == "--memory" {
                    self.memory = Some(n);
                } else {
                    self.memory_swap = Some(n);
                }
            }
            "--cpus" => {
                let hint = "use a positive number of CPUs such as 1.5";
                let cpus = parse_decimal(v)
                    .filter(|c| *c > 0.0)
                    .ok_or_else(|| bad(name, "number of CPUs", v, hint))?;
                let quota = (cpus * CPU_PERIOD_US as f64).round();
                if quota < 1000.0 {
                    return Err(bad(name, "number of CPUs", v, "the smallest is 0.01"));
                }
                if cpus > 100_000.0 {
                    return Err(bad(name, "number of CPUs", v, "at most 100000"));
                }
                self.cpu_quota = Some(quota as u64);
            }
            "--pids" => {
                let n = parse_count(v)
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| bad(name, "process count", v, "use a whole number >= 1"))?;
                self.pids = Some(n);
            }
            "--io-weight" => {
                let n = parse_count(v)
                    .filter(|n| (1..=10000).contains(n))
                    .map(|n| n as u16)
                    .ok_or_else(|| bad(name, "weight", v, "use a whole number from 1 to 10000"))?;
                self.io_weight = Some(n);
            }
            "--rlimit" => {
                let r = parse_rlimit(v)?;
                self.rlimits.retain(|o| o.name != r.name);
                self.rlimits.push(r);
            }
            "--timeout" => {
                let hint = "use seconds such as 1.5, or a ms/s/m/h suffix";
                self.timeout =
                    Some(parse_duration(v).ok_or_else(|| bad(name, "duration", v, hint))?);
            }
            "--stats" => self.stats = Some(StatsTo::Stderr),
            "--stats-fd" => {
                let fd = parse_count(v)
                    .and_then(|n| RawFd::try_from(n).ok())
                    .ok_or_else(|| bad(name, "fd", v, "use a file descriptor number"))?;
                self.stats = Some(StatsTo::Fd(fd));
            }
            "--cgroup" => {
                self.cgroup = Some(match v {
                    "required" => CgroupMode::Required,
                    "best-effort" => CgroupMode::BestEffort,
                    "off" => CgroupMode::Off,
                    _ => return Err(bad(name, "mode", v, "use required, best-effort or off")),
                });
            }
            "--tmpfs-size" => {
                let n = if v == "unlimited" {
                    None
                } else {
                    Some(parse_size(v).filter(|n| *n > 0).ok_or_else(|| {
                        bad(name, "size", v, "use bytes or a k/M/G suffix, or unlimited")
                    })?)
                };
                self.tmpfs_size_given = Some(n);
            }
            other => unreachable!("{other} is not a limits flag"),
        }
        Ok(())
    }

    /// The flags given that need a cgroup, with the controller each one needs.
    pub fn cgroup_flags(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        for (given, flag, controller) in [
            (self.memory.is_some(), "--memory", "memory"),
            (self.memory_swap.is_some(), "--memory-swap", "memory"),
            (self.cpu_quota.is_some(), "--cpus", "cpu"),
            (self.pids.is_some(), "--pids", "pids"),
            (self.io_weight.is_some(), "--io-weight", "io"),
        ] {
            if given {
                out.push((flag, controller));
            }
        }
        out
    }

    /// `--cgroup` as given, else best-effort when a cgroup limit is asked for, else off.
    pub fn cgroup_mode(&self) -> CgroupMode {
        self.cgroup.unwrap_or(if self.cgroup_flags().is_empty() {
            CgroupMode::Off
        } else {
            CgroupMode::BestEffort
        })
    }

    /// The bounds hutch sets by default under the hutch name (none under the bwrap name):
    /// every tmpfs without `--size`, and the number of processes without `--rlimit nproc`.
    pub fn set_defaults(&mut self, hutch: bool) {
        self.tmpfs_size = match self.tmpfs_size_given {
            Some(given) => given,
            None if hutch => Some(default_tmpfs_size()),
            None => None,
        };
        self.nproc_default = hutch && !self.rlimits.iter().any(|r| r.name == RlimitName::Nproc);
    }

    /// The default process bound, if it applies to this sandbox, else why not. It bounds
    /// the sandbox alone only in a user namespace of its own (Linux 5.14 and later), and
    /// never root: the kernel exempts uid 0 (of the initial namespace) from `RLIMIT_NPROC`.
    /// `per_userns`: see [`nproc_counted_per_userns`].
    pub fn default_nproc(
        &self,
        own_userns: bool,
        real_uid: u32,
        per_userns: bool,
    ) -> std::result::Result<u64, &'static str> {
        if !self.nproc_default {
            return Err("not asked for");
        }
        if real_uid == 0 {
            return Err("the kernel does not bound root's processes with RLIMIT_NPROC; use --pids");
        }
        if !own_userns {
            return Err("no user namespace of its own: RLIMIT_NPROC would count the user's host processes too");
        }
        if !per_userns {
            return Err("before Linux 5.14 RLIMIT_NPROC counts the user's host processes too");
        }
        Ok(DEFAULT_NPROC)
    }

    /// Checks that need the whole command line.
    pub fn check(&self) -> Result<()> {
        if self.cgroup == Some(CgroupMode::Off) {
            if let Some((flag, _)) = self.cgroup_flags().first() {
                return Err(Error::msg(format!(
                    "{flag} needs a cgroup and cannot be combined with --cgroup off"
                )));
            }
        }
        Ok(())
    }
}

/// The default process bound: `RLIMIT_NPROC` lowered to `n` (never raised).
pub fn apply_default_nproc(n: u64) -> Result<()> {
    let (soft, hard) = nix::sys::resource::getrlimit(Resource::RLIMIT_NPROC).map_err(|e| {
        Error::msg(format!(
            "getrlimit(RLIMIT_NPROC): {}",
            sys::strerror(e as i32)
        ))
    })?;
    setrlimit(Resource::RLIMIT_NPROC, soft.min(n), hard.min(n)).map_err(|e| {
        Error::msg(format!(
            "the default process bound (RLIMIT_NPROC {n}): setrlimit failed: {}",
            sys::strerror(e as i32)
        ))
    })
}

/// Set the `--rlimit`s on the calling process (the command, just before exec).
pub fn apply_rlimits(rlimits: &[Rlimit]) -> Result<()> {
    for r in rlimits {
        let soft = r.soft.unwrap_or(RLIM_INFINITY);
        let hard = r.hard.unwrap_or(RLIM_INFINITY);
        if let Err(e) = setrlimit(r.name.resource(), soft, hard) {
            let mut msg = format!(
                "--rlimit {r}: setrlimit failed: {}",
                sys::strerror(e as i32)
            );
            if e == nix::errno::Errno::EPERM {
                if let Ok((_, cur)) = nix::sys::resource::getrlimit(r.name.resource()) {
                    let cur = if cur == RLIM_INFINITY {
                        "unlimited".to_string()
                    } else {
                        cur.to_string()
                    };
                    msg.push_str(&format!(
                        " (only root can raise the hard limit, which is {cur})"
                    ));
                }
            }
            return Err(Error::msg(msg));
        }
    }
    Ok(())
}

/// The monitor's side of the limits: see the module docs.
pub struct Guard {
    limits: Limits,
    started: Instant,
    deadline: Option<Instant>,
    cgroup: Option<Cgroup>,
    /// Why the cgroup was not made (best effort), and the limits left out.
    cgroup_error: Option<String>,
    not_applied: Vec<&'static str>,
    /// `--timeout` without a cgroup: hutch is a child subreaper, so that every
    /// descendant, orphans included, can be found and killed.
    subreaper: bool,
    stats_fd: Option<OwnedFd>,
    watchdog: Option<Watchdog>,
    timed_out: bool,
    /// The process that made the guard (the child inherits a copy it never drops).
    owner: Pid,
    done: bool,
}

/// The `--timeout` thread: it sleeps until the deadline unless told to stop first.
struct Watchdog {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
    fired: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Guard {
    /// Before the clone: start the clock, make the cgroup (or explain why not).
    pub fn start(spec: &Spec, msgs: &Messages) -> Result<Guard> {
        let limits = spec.limits.clone();
        let started = Instant::now();
        let mut stats_fd = None;
        if let Some(StatsTo::Fd(fd)) = limits.stats {
            if !sys::fd_is_open(fd) {
                return Err(Error::msg(format!(
                    "Invalid fd: {fd} (given to --stats-fd): Bad file descriptor"
                )));
            }
            if fd > 2 {
                // The monitor writes it; the sandbox must not hold it open (exec closes it).
                let owned = sys::own_fd(fd);
                let _ = nix::fcntl::fcntl(
                    &owned,
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
                );
                stats_fd = Some(owned);
            }
        }
        let mut guard = Guard {
            deadline: limits.timeout.map(|t| started + t),
            started,
            cgroup: None,
            cgroup_error: None,
            not_applied: Vec::new(),
            subreaper: false,
            stats_fd,
            watchdog: None,
            timed_out: false,
            owner: nix::unistd::getpid(),
            done: false,
            limits,
        };
        let mode = guard.limits.cgroup_mode();
        if mode != CgroupMode::Off {
            let made = cgroup::Host::detect().and_then(|host| {
                Cgroup::create(
                    &host,
                    &format!("hutch-{}", guard.owner),
                    &guard.limits,
                    guard.limits.stats.is_some(),
                )
            });
            match made {
                Ok(cg) => guard.cgroup = Some(cg),
                Err(e) if mode == CgroupMode::Required => return Err(e),
                Err(e) => {
                    let flags: Vec<&'static str> = guard
                        .limits
                        .cgroup_flags()
                        .iter()
                        .map(|(f, _)| *f)
                        .collect();
                    if flags.is_empty() {
                        msgs.warn(&format!("running without a cgroup: {e}"));
                    } else {
                        msgs.warn(&format!("{} not applied: {e}", flags.join(", ")));
                    }
                    guard.not_applied = flags;
                    guard.cgroup_error = Some(e.to_string());
                }
            }
        }
        if guard.deadline.is_some() && guard.cgroup.is_none() {
            guard.subreaper = nix::sys::prctl::set_child_subreaper(true).is_ok();
        }
        Ok(guard)
    }

    /// Clone the child (see `sys::clone_fork`), into the cgroup when there is one.
    pub fn clone_child(&self, flags: libc::c_int) -> std::io::Result<libc::pid_t> {
        let Some(cg) = &self.cgroup else {
            return sys::clone_fork(flags);
        };
        match sys::clone3_into_cgroup(flags, cg.sandbox_fd()) {
            // Before Linux 5.7 (or where seccomp hides clone3): hutch steps into the
            // cgroup for the clone, so that the child is born there, and steps out.
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                cg.enter_self().map_err(std::io::Error::other)?;
                let pid = sys::clone_fork(flags);
                if !matches!(pid, Ok(0)) {
                    cg.leave_self();
                }
                pid
            }
            r => r,
        }
    }

    /// Neither a cgroup nor a `--timeout` deadline: nothing the monitor must do
    /// while the child sets up.
    pub fn plain(&self) -> bool {
        self.cgroup.is_none() && self.deadline.is_none()
    }

    /// In the monitor, once the child exists: start the `--timeout` watchdog. When the
    /// deadline passes it kills the whole sandbox, so that whatever the monitor is
    /// blocked on (the error pipe, waitpid, a status socket) returns.
    ///
    /// A thread, started after the clone: nothing forks in the monitor after this.
    pub fn watch(&mut self, child: libc::pid_t, msgs: &Messages) {
        let Some(deadline) = self.deadline else {
            return;
        };
        let pidfd = sys::pidfd_open(child).ok();
        let kill_cgroup = self.cgroup.as_ref().map(|c| c.sandbox_path().to_path_buf());
        let (name, prefix) = (msgs.name, msgs.level_prefix);
        let after = format_duration(self.limits.timeout.unwrap_or_default());
        let fired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = fired.clone();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let left = deadline.saturating_duration_since(Instant::now());
            if stopped.recv_timeout(left) != Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            Messages {
                name,
                level_prefix: prefix,
            }
            .error(&format!("timeout after {after}"));
            // The cgroup holds every process of the sandbox. Without one, hutch's
            // descendants (all of them the sandbox's; orphans too, hutch being their
            // subreaper) go first, so that a pid 1 reaps the command and its CPU time
            // is counted, then the child itself, then any straggler.
            match &kill_cgroup {
                Some(dir) => cgroup::kill_dir(dir),
                None => {
                    let killed = kill_descendants(Some(child), Duration::ZERO);
                    if let (true, Some(fd)) = (killed > 0, &pidfd) {
                        let mut fds = [nix::poll::PollFd::new(
                            fd.as_fd(),
                            nix::poll::PollFlags::POLLIN,
                        )];
                        let _ = nix::poll::poll(&mut fds, 200u8);
                    }
                }
            }
            match &pidfd {
                Some(fd) => {
                    let _ = sys::pidfd_send_signal(fd.as_fd(), libc::SIGKILL);
                }
                None => {
                    let _ = kill(Pid::from_raw(child), Signal::SIGKILL);
                }
            }
            if kill_cgroup.is_none() {
                kill_descendants(None, Duration::from_secs(2));
            }
        });
        self.watchdog = Some(Watchdog {
            stop,
            thread,
            fired,
        });
    }

    /// Stop the watchdog; whether it fired.
    fn stop_watchdog(&mut self) {
        if let Some(w) = self.watchdog.take() {
            drop(w.stop);
            let _ = w.thread.join();
            self.timed_out |= w.fired.load(std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// The sandbox ended with `code`: end the cgroup, write `--stats`. Returns hutch's
    /// exit status: `code`, or 124 when `--timeout` ended the sandbox.
    pub fn finish(&mut self, code: i32, msgs: &Messages) -> i32 {
        self.stop_watchdog();
        self.done = true;
        let code = if self.timed_out { TIMEOUT_STATUS } else { code };
        let mut cg_stats = None;
        let mut cgroup_path = None;
        if let Some(cg) = self.cgroup.take() {
            cg.kill();
            cg_stats = Some(cg.stats());
            cgroup_path = Some(cg.path().display().to_string());
            if let Err(e) = cg.remove() {
                msgs.warn(&e.to_string());
            }
        }
        let Some(to) = self.limits.stats else {
            return code;
        };
        let usage = getrusage(UsageWho::RUSAGE_CHILDREN).ok();
        let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
        let mut s = Stats {
            wall: self.started.elapsed().as_secs_f64(),
            user: usage.map_or(0.0, |u| secs(u.user_time())),
            system: usage.map_or(0.0, |u| secs(u.system_time())),
            cpu_from: "rusage",
            peak: usage.map_or(0, |u| u.max_rss().max(0) as u64 * 1024),
            peak_from: "rusage",
            exit_status: code,
            limits_hit: Vec::new(),
            cgroup: cgroup_path,
            not_applied: self.not_applied.clone(),
            cgroup_error: self.cgroup_error.clone(),
        };
        if self.timed_out {
            s.limits_hit.push("timeout");
        }
        if let Some(c) = cg_stats {
            if let (Some(u), Some(sy)) = (c.user_usec, c.system_usec) {
                (s.user, s.system, s.cpu_from) = (u as f64 / 1e6, sy as f64 / 1e6, "cgroup");
            }
            if let Some(p) = c.memory_peak {
                (s.peak, s.peak_from) = (p, "cgroup");
            }
            if c.oom_kills > 0 {
                s.limits_hit.push("memory");
            }
            if c.pids_max_hits > 0 {
                s.limits_hit.push("pids");
            }
        }
        // RLIMIT_CPU sends SIGXCPU at the soft limit, SIGKILL at the hard one. A
        // SIGKILL counts when the CPU time came near the limit: the figures from
        // getrusage are sampled and can fall well short of the kernel's exact count
        // (0.69 s for a command killed at 1 s, once, on a loaded machine), hence half.
        let rlimit = |n: RlimitName| self.limits.rlimits.iter().find(|r| r.name == n);
        if let Some(soft) = rlimit(RlimitName::Cpu).and_then(|r| r.soft) {
            let near = s.user + s.system >= 0.5 * soft as f64;
            if code == 128 + libc::SIGXCPU || (code == 128 + libc::SIGKILL && near) {
                s.limits_hit.push("rlimit-cpu");
            }
        }
        if code == 128 + libc::SIGXFSZ && rlimit(RlimitName::Fsize).is_some() {
            s.limits_hit.push("rlimit-fsize");
        }
        let mut text = s.json();
        // --allow-host/--allow-net: what the relay refused (src/stage/allow.rs).
        if let Some(denied) = crate::allow::denied_json() {
            text.truncate(text.trim_end().len() - 1);
            text.push_str(&format!(", \"net_denied\": {denied}}}\n"));
        }
        match (to, self.stats_fd.take()) {
            (StatsTo::Fd(_), Some(fd)) => {
                let _ = File::from(fd).write_all(text.as_bytes());
            }
            (StatsTo::Fd(fd), None) => {
                // fd 0-2: written, not closed.
                let mut f = std::mem::ManuallyDrop::new(File::from(sys::own_fd(fd)));
                let _ = f.write_all(text.as_bytes());
            }
            (StatsTo::Stderr, _) => {
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
        }
        code
    }
}

impl Drop for Guard {
    /// An early return from the monitor still stops the watchdog and ends the cgroup.
    fn drop(&mut self) {
        if self.done || nix::unistd::getpid() != self.owner {
            return;
        }
        self.stop_watchdog();
        if let Some(cg) = self.cgroup.take() {
            cg.kill();
            let _ = cg.remove();
        }
    }
}

/// Kill every live descendant of hutch but `spare`, once, then again until none is
/// left or `patience` has passed. Zombies are left to the waits. Returns how many
/// were signalled the first time.
fn kill_descendants(spare: Option<libc::pid_t>, patience: Duration) -> usize {
    let me = nix::unistd::getpid().as_raw();
    let until = Instant::now() + patience;
    let mut first = None;
    loop {
        let alive: Vec<i32> = descendants(me)
            .into_iter()
            .filter(|p| Some(*p) != spare)
            .collect();
        for pid in &alive {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        let first = *first.get_or_insert(alive.len());
        if alive.is_empty() || Instant::now() >= until {
            return first;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The live (not zombie) descendants of `root`, from `/proc/*/stat`.
fn descendants(root: i32) -> Vec<i32> {
    let mut procs = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // "pid (comm) S ppid ...": comm may hold spaces and parentheses.
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                continue;
            };
            let mut f = rest.split_whitespace();
            let state = f.next().unwrap_or("");
            let ppid = f.next().and_then(|p| p.parse::<i32>().ok()).unwrap_or(0);
            procs.push((pid, ppid, state == "Z" || state == "X"));
        }
    }
    let mut found = vec![root];
    let mut out = Vec::new();
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        for (pid, ppid, dead) in &procs {
            if *ppid == parent && !found.contains(pid) {
                found.push(*pid);
                if !dead {
                    out.push(*pid);
                }
            }
        }
        i += 1;
    }
    out
}

/// What `--stats` reports.
struct Stats {
    wall: f64,
    user: f64,
    system: f64,
    cpu_from: &'static str,
    peak: u64,
    peak_from: &'static str,
    exit_status: i32,
    limits_hit: Vec<&'static str>,
    cgroup: Option<String>,
    not_applied: Vec<&'static str>,
    cgroup_error: Option<String>,
}

impl Stats {
    /// One JSON object on one line.
    fn json(&self) -> String {
        use crate::json;
        let opt = |v: &Option<String>| json::opt_string(v.as_deref());
        format!(
            concat!(
                "{{\"wall_time_s\": {:.3}, \"user_cpu_s\": {:.3}, \"system_cpu_s\": {:.3}, ",
                "\"cpu_from\": {}, \"peak_memory_bytes\": {}, \"peak_memory_from\": {}, ",
                "\"exit_status\": {}, \"limits_hit\": {}, \"cgroup\": {}, ",
                "\"not_applied\": {}, \"cgroup_error\": {}}}\n"
            ),
            self.wall,
            self.user,
            self.system,
            json::string(self.cpu_from),
            self.peak,
            json::string(self.peak_from),
            self.exit_status,
            json::list(&self.limits_hit),
            opt(&self.cgroup),
            json::list(&self.not_applied),
            opt(&self.cgroup_error),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(l: &mut Limits, name: &str, v: &str) -> Result<()> {
        l.parse_flag(name, &[OsString::from(v)])
    }

    fn err(name: &str, v: &str) -> String {
        flag(&mut Limits::default(), name, v)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn cgroup_flags() {
        let mut l = Limits::default();
        assert_eq!(l.cgroup_mode(), CgroupMode::Off);
        flag(&mut l, "--memory", "200M").unwrap();
        assert_eq!(l.memory, Some(200 << 20));
        flag(&mut l, "--memory-swap", "0").unwrap();
        assert_eq!(l.memory_swap, Some(0));
        flag(&mut l, "--cpus", "1.5").unwrap();
        assert_eq!(l.cpu_quota, Some(150_000));
        flag(&mut l, "--pids", "64").unwrap();
        assert_eq!(l.pids, Some(64));
        flag(&mut l, "--io-weight", "500").unwrap();
        assert_eq!(l.io_weight, Some(500));
        assert_eq!(l.cgroup_mode(), CgroupMode::BestEffort);
        assert_eq!(
            l.cgroup_flags(),
            [
                ("--memory", "memory"),
                ("--memory-swap", "memory"),
                ("--cpus", "cpu"),
                ("--pids", "pids"),
                ("--io-weight", "io")
            ]
        );
        flag(&mut l, "--cgroup", "required").unwrap();
        assert_eq!(l.cgroup_mode(), CgroupMode::Required);
        assert!(l.check().is_ok());
        flag(&mut l, "--cgroup", "off").unwrap();
        assert_eq!(
            l.check().unwrap_err().to_string(),
            "--memory needs a cgroup and cannot be combined with --cgroup off"
        );
        let mut l = Limits::default();
        flag(&mut l, "--cgroup", "required").unwrap();
        assert_eq!(l.cgroup_mode(), CgroupMode::Required);
    }

    #[test]
    fn bad_values_name_the_flag_and_value() {
        assert_eq!(
            err("--memory", "12X"),
            "--memory: invalid size \"12X\" (use bytes or a k/M/G suffix)"
        );
        assert_eq!(
            err("--memory", "0"),
            "--memory: invalid size \"0\" (use bytes or a k/M/G suffix)"
        );
        assert_eq!(
            err("--memory-swap", "lots"),
            "--memory-swap: invalid size \"lots\" (use bytes or a k/M/G suffix)"
        );
        assert_eq!(
            err("--cpus", "abc"),
            "--cpus: invalid number of CPUs \"abc\" (use a positive number of CPUs such as 1.5)"
        );
        assert!(err("--cpus", "0").contains("\"0\""));
        assert!(err("--cpus", "-1").contains("\"-1\""));
        assert_eq!(
            err("--cpus", "0.001"),
            "--cpus: invalid number of CPUs \"0.001\" (the smallest is 0.01)"
        );
        assert_eq!(
            err("--pids", "0"),
            "--pids: invalid process count \"0\" (use a whole number >= 1)"
        );
        assert!(err("--pids", "+5").contains("\"+5\""));
        assert_eq!(
            err("--io-weight", "10001"),
            "--io-weight: invalid weight \"10001\" (use a whole number from 1 to 10000)"
        );
        assert!(err("--io-weight", "0").starts_with("--io-weight: invalid weight \"0\""));
        assert_eq!(
            err("--timeout", "soon"),
            "--timeout: invalid duration \"soon\" (use seconds such as 1.5, or a ms/s/m/h suffix)"
        );
        assert!(err("--timeout", "0").starts_with("--timeout: invalid duration \"0\""));
        assert_eq!(
            err("--stats-fd", "x"),
            "--stats-fd: invalid fd \"x\" (use a file descriptor number)"
        );
        assert_eq!(
            err("--cgroup", "maybe"),
            "--cgroup: invalid mode \"maybe\" (use required, best-effort or off)"
        );
    }

    #[test]
    fn rlimits() {
        let r = parse_rlimit("nofile=64").unwrap();
        assert_eq!(
            (r.name, r.soft, r.hard),
            (RlimitName::Nofile, Some(64), Some(64))
        );
        let r = parse_rlimit("as=200M:1G").unwrap();
        assert_eq!((r.soft, r.hard), (Some(200 << 20), Some(1 << 30)));
        let r = parse_rlimit("core=0:unlimited").unwrap();
        assert_eq!((r.soft, r.hard), (Some(0), None));
        assert_eq!(r.to_string(), "core=0:unlimited");
        let r = parse_rlimit("stack=unlimited").unwrap();
        assert_eq!((r.soft, r.hard), (None, None));
        let r = parse_rlimit("cpu=10").unwrap();
        assert_eq!(r.name, RlimitName::Cpu);
        for name in [
            "as", "core", "cpu", "data", "fsize", "memlock", "nofile", "nproc", "stack",
        ] {
            assert!(parse_rlimit(&format!("{name}=1")).is_ok(), "{name}");
        }
        assert_eq!(
            parse_rlimit("foo=1").unwrap_err().to_string(),
            "--rlimit: invalid limit \"foo=1\" (unknown resource \"foo\"; use one of as, core, cpu, data, fsize, memlock, nofile, nproc, stack)"
        );
        assert!(parse_rlimit("nofile")
            .unwrap_err()
            .to_string()
            .starts_with("--rlimit: invalid limit \"nofile\" (use NAME=SOFT[:HARD]"));
        assert_eq!(
            parse_rlimit("nofile=10:5").unwrap_err().to_string(),
            "--rlimit: invalid limit \"nofile=10:5\" (the soft limit is above the hard limit)"
        );
        assert_eq!(
            parse_rlimit("nofile=1k").unwrap_err().to_string(),
            "--rlimit: invalid limit \"nofile=1k\" (nofile takes a whole number, or unlimited)"
        );
        assert_eq!(
            parse_rlimit("as=12X").unwrap_err().to_string(),
            "--rlimit: invalid limit \"as=12X\" (as takes bytes with an optional k/M/G suffix, or unlimited)"
        );
        assert!(parse_rlimit("cpu=1.5").is_err());
        // Repeated: the last one for a resource wins, others stay.
        let mut l = Limits::default();
        flag(&mut l, "--rlimit", "nofile=10").unwrap();
        flag(&mut l, "--rlimit", "core=0").unwrap();
        flag(&mut l, "--rlimit", "nofile=20").unwrap();
        assert_eq!(l.rlimits.len(), 2);
        assert_eq!(l.rlimits[1].soft, Some(20));
    }

    #[test]
    fn stats_json() {
        let s = Stats {
            wall: 1.0004,
            user: 0.5,
            system: 0.25,
            cpu_from: "rusage",
            peak: 1024,
            peak_from: "rusage",
            exit_status: 124,
            limits_hit: vec!["timeout"],
            cgroup: None,
            not_applied: vec!["--memory"],
            cgroup_error: Some("no \"memory\"".into()),
        };
        assert_eq!(
            s.json(),
            concat!(
                r#"{"wall_time_s": 1.000, "user_cpu_s": 0.500, "system_cpu_s": 0.250, "#,
                r#""cpu_from": "rusage", "peak_memory_bytes": 1024, "peak_memory_from": "rusage", "#,
                r#""exit_status": 124, "limits_hit": ["timeout"], "cgroup": null, "#,
                r#""not_applied": ["--memory"], "cgroup_error": "no \"memory\""}"#,
                "\n"
            )
        );
    }

    #[test]
    fn descendants_of_a_process_tree() {
        // This test process has no children of its own here: none are found.
        let me = std::process::id() as i32;
        assert!(!descendants(me).contains(&me));
    }
}
