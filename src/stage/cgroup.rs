//! cgroup v2: one cgroup per sandbox, made below the caller's own cgroup when the
//! caller may write there (root, or a delegated systemd scope). No D-Bus: when the
//! caller's cgroup is not delegated, the messages name `systemd-run --user --scope`.
//!
//! ```text
//! <caller>/hutch-<pid>/          the limits (memory.max, memory.swap.max, cpu.max,
//!                                pids.max, io.weight); controllers enabled in its
//!                                subtree_control, so that the sandbox may nest
//! <caller>/hutch-<pid>/sandbox/  the child, born there (clone3 CLONE_INTO_CGROUP)
//! <caller>/hutch-<pid>-monitor/  hutch itself, only when <caller> held hutch and had
//!                                to be emptied to enable controllers for its children
//!                                (cgroup v2's "no internal processes" rule)
//! ```
//!
//! The limits sit on `hutch-<pid>`, above the sandbox's own cgroup: with
//! `--unshare-cgroup` the sandbox's namespace root is `sandbox/`, and the kernel does
//! not let a namespace root's limits be written from inside.
//!
//! The hierarchy's root is a parameter ([`CgroupRoot`]): the tests run every step
//! against a fake tree of plain files in a temporary directory.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::AccessFlags;

use crate::error::{Error, Result};
use crate::spec::{Limits, CPU_PERIOD_US};

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup`, here `/sys/fs/cgroup/unified`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupRoot(pub PathBuf);

/// What hutch knows about the host's cgroups: the v2 root, the caller's cgroup in it,
/// and facts that only serve to explain a failure.
#[derive(Debug, Clone)]
pub struct Host {
    pub root: CgroupRoot,
    /// The caller's cgroup, relative to `root` (`/` for the root cgroup).
    pub caller: PathBuf,
    /// Controllers bound to a cgroup v1 hierarchy, with its mount point (hybrid setups).
    pub v1: Vec<(String, PathBuf)>,
    /// A systemd user bus exists (so `systemd-run --user` can work).
    pub user_bus: bool,
}

/// The systemd drop-in that delegates controllers to users.
const DROP_IN: &str = "/etc/systemd/system/user@.service.d/delegate.conf";
const DROP_IN_TEXT: &str = "[Service] Delegate=cpu cpuset io memory pids";
const SCOPE_HINT: &str = "systemd-run --user --scope -p Delegate=yes hutch ...";

/// Undo mountinfo's octal escapes (`\040` is a space).
fn unescape(s: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.len() - i >= 4 {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                out.push((oct[0] - b'0') * 64 + (oct[1] - b'0') * 8 + (oct[2] - b'0'));
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// One mountinfo line: (root within the filesystem, mount point, fstype, super options).
fn mount_fields(line: &str) -> Option<(PathBuf, PathBuf, &str, &str)> {
    let (left, right) = line.split_once(" - ")?;
    let l: Vec<&str> = left.split(' ').collect();
    let r: Vec<&str> = right.split(' ').collect();
    Some((
        unescape(l.get(3)?),
        unescape(l.get(4)?),
        r.first()?,
        r.get(2).copied().unwrap_or(""),
    ))
}

impl Host {
    /// Read `/proc/self/mountinfo` and `/proc/self/cgroup`.
    pub fn detect() -> Result<Host> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let cgroup = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let uid = nix::unistd::getuid().as_raw();
        let user_bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            || std::env::var_os("XDG_RUNTIME_DIR")
                .is_some_and(|d| Path::new(&d).join("bus").exists())
            || Path::new(&format!("/run/user/{uid}/bus")).exists();
        Host::parse(&mountinfo, &cgroup, user_bus)
    }

    /// The pure part of [`Host::detect`].
    pub fn parse(mountinfo: &str, proc_cgroup: &str, user_bus: bool) -> Result<Host> {
        let mut v2 = None;
        let mut v1 = Vec::new();
        for line in mountinfo.lines() {
            let Some((root, mp, fstype, opts)) = mount_fields(line) else {
                continue;
            };
            match fstype {
                "cgroup2" if v2.is_none() => v2 = Some((root, mp)),
                "cgroup" => {
                    for o in opts.split(',') {
                        v1.push((o.to_string(), mp.clone()));
                    }
                }
                _ => {}
            }
        }
        let Some((mount_root, mount_point)) = v2 else {
            return Err(Error::msg(
                "cgroup v2 is not mounted (no cgroup2 filesystem in /proc/self/mountinfo): \
                 hutch's cgroup limits need the unified hierarchy",
            ));
        };
        let Some(path) = proc_cgroup.lines().find_map(|l| l.strip_prefix("0::")) else {
            return Err(Error::msg(
                "this process is in no cgroup v2 (no 0:: line in /proc/self/cgroup)",
            ));
        };
        let path = Path::new(path.trim_end_matches(" (deleted)"));
        let caller = match path.strip_prefix(&mount_root) {
            Ok(rel) => Path::new("/").join(rel),
            Err(_) => {
                return Err(Error::msg(format!(
                    "your cgroup {} is outside the cgroup2 mount at {} (which shows {})",
                    path.display(),
                    mount_point.display(),
                    mount_root.display()
                )))
            }
        };
        Ok(Host {
            root: CgroupRoot(mount_point),
            caller,
            v1,
            user_bus,
        })
    }

    /// The caller's cgroup directory.
    pub fn caller_dir(&self) -> PathBuf {
        let rel = self.caller.strip_prefix("/").unwrap_or(&self.caller);
        if rel.as_os_str().is_empty() {
            self.root.0.clone()
        } else {
            self.root.0.join(rel)
        }
    }
}

/// Read a cgroup file.
fn read(path: &Path) -> io::Result<String> {
    fs::read_to_string(path)
}

/// Write a cgroup file, the way `echo VALUE > FILE` does (on a fake tree it creates it).
fn write(path: &Path, value: &str) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.write_all(value.as_bytes())
}

/// A cgroup write with one line of context, and the likely cause when the file is missing.
fn write_ctx(path: &Path, value: &str) -> Result<()> {
    write(path, value).map_err(|e| {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let why = match name.as_ref() {
            "memory.swap.max" => " (no swap accounting in this kernel: boot with swapaccount=1)",
            "io.weight" => {
                " (the io controller offers no io.weight here: the kernel lacks blk-iocost)"
            }
            _ => "",
        };
        if !path.exists() {
            Error::msg(format!(
                "cannot set {}: no such cgroup file{why}",
                path.display()
            ))
        } else {
            Error::io(
                format!("cannot write {:?} to {}", value.trim_end(), path.display()),
                e,
            )
        }
    })
}

/// `rmdir`. On a real cgroupfs the interface files go with the directory; a fake tree
/// (the tests) holds plain files, removed first.
fn rmdir(dir: &Path) -> io::Result<()> {
    match fs::remove_dir(dir) {
        Err(e) if e.raw_os_error() == Some(libc::ENOTEMPTY) => {
            for entry in fs::read_dir(dir)?.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_file()) {
                    let _ = fs::remove_file(entry.path());
                }
            }
            fs::remove_dir(dir)
        }
        r => r,
    }
}

/// The words of a space-separated cgroup file (`cgroup.controllers`, `cgroup.subtree_control`).
fn words(path: &Path) -> Vec<String> {
    read(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// A key's value in a flat-keyed file (`cpu.stat`, `memory.events`).
fn key(path: &Path, k: &str) -> Option<u64> {
    read(path).ok()?.lines().find_map(|l| {
        let (name, v) = l.split_once(' ')?;
        (name == k).then(|| v.trim().parse().ok()).flatten()
    })
}

fn writable(path: &Path) -> bool {
    nix::unistd::access(path, AccessFlags::W_OK).is_ok()
}

/// Kill every process in the cgroup `dir` and its descendants, and wait (up to 2 s)
/// until none is left.
pub fn kill_dir(dir: &Path) {
    let kill_file = dir.join("cgroup.kill");
    let killed = kill_file.exists() && write(&kill_file, "1").is_ok();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if !killed {
            // Before Linux 5.14: one process at a time.
            for pid in read(&dir.join("cgroup.procs")).unwrap_or_default().lines() {
                if let Ok(pid) = pid.trim().parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
        let populated = key(&dir.join("cgroup.events"), "populated").unwrap_or(0);
        if populated == 0 || Instant::now() >= deadline {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// What the sandbox's cgroup recorded, read before it is removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CgroupStats {
    pub user_usec: Option<u64>,
    pub system_usec: Option<u64>,
    pub memory_peak: Option<u64>,
    pub oom_kills: u64,
    pub pids_max_hits: u64,
}

/// The sandbox's cgroup (see the module docs).
#[derive(Debug)]
pub struct Cgroup {
    /// The caller's cgroup.
    base: PathBuf,
    /// `hutch-<pid>`: the limits.
    dir: PathBuf,
    /// `hutch-<pid>/sandbox`: the child.
    sandbox: PathBuf,
    sandbox_fd: OwnedFd,
    /// `hutch-<pid>-monitor`, where hutch waits when it had to leave `base`.
    monitor: Option<PathBuf>,
    /// Controllers hutch enabled in `base` (only undone when hutch left `base`).
    enabled_in_base: Vec<&'static str>,
}

/// A partly made cgroup, taken down again if setup fails halfway.
struct Partial {
    base: PathBuf,
    made: Vec<PathBuf>,
    monitor: Option<PathBuf>,
    enabled_in_base: Vec<&'static str>,
}

impl Partial {
    fn undo(&mut self) {
        for dir in self.made.drain(..).rev() {
            let _ = rmdir(&dir);
        }
        if let Some(mon) = self.monitor.take() {
            leave_monitor(&self.base, &mon, &self.enabled_in_base);
        }
    }
}

/// Undo the controllers hutch enabled in `base`, step back into it, remove the leaf.
fn leave_monitor(base: &Path, monitor: &Path, enabled: &[&str]) {
    if !enabled.is_empty() {
        let minus: Vec<String> = enabled.iter().map(|c| format!("-{c}")).collect();
        let _ = write(&base.join("cgroup.subtree_control"), &minus.join(" "));
    }
    if write(&base.join("cgroup.procs"), "0").is_ok() {
        let _ = rmdir(monitor);
    }
}

/// The controllers to enable: each limit's, and memory for `--stats` when available.
fn controllers(limits: &Limits, stats: bool, available: &[String]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (_, c) in limits.cgroup_flags() {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    if stats && !out.contains(&"memory") && available.iter().any(|a| a == "memory") {
        out.push("memory");
    }
    out
}

/// Remove the cgroups of hutch processes that are gone (a killed monitor cannot clean
/// up). Only empty cgroups go: rmdir fails on a populated one.
fn clean_stale(base: &Path) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("hutch-")) else {
            continue;
        };
        let pid = rest.strip_suffix("-monitor").unwrap_or(rest);
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = rmdir(&e.path().join("sandbox"));
        let _ = rmdir(&e.path());
    }
}

impl Cgroup {
    /// Make `<caller>/<name>` with the limits, `<name>/sandbox` for the child.
    pub fn create(host: &Host, name: &str, limits: &Limits, stats: bool) -> Result<Cgroup> {
        let base = host.caller_dir();
        let mut partial = Partial {
            base: base.clone(),
            made: Vec::new(),
            monitor: None,
            enabled_in_base: Vec::new(),
        };
        match Self::setup(host, &base, name, limits, stats, &mut partial) {
            Ok(cg) => Ok(cg),
            Err(e) => {
                partial.undo();
                Err(e)
            }
        }
    }

    fn setup(
        host: &Host,
        base: &Path,
        name: &str,
        limits: &Limits,
        stats: bool,
        partial: &mut Partial,
    ) -> Result<Cgroup> {
        // 1. May we make cgroups here at all?
        if !base.is_dir() {
            return Err(Error::msg(format!(
                "your cgroup {} does not exist under the cgroup2 mount {}",
                base.display(),
                host.root.0.display()
            )));
        }
        if !writable(base) || !writable(&base.join("cgroup.procs")) {
            let mut msg = format!(
                "cgroup {} is not writable by you (not delegated): ",
                base.display()
            );
            if host.user_bus || nix::unistd::getuid().is_root() {
                msg.push_str(&format!(
                    "run hutch in a delegated scope, e.g. `{SCOPE_HINT}`"
                ));
            } else {
                msg.push_str(&format!(
                    "the usual fix, `{SCOPE_HINT}`, needs a systemd user bus and there is none \
                     ($XDG_RUNTIME_DIR/bus): log in through systemd-logind, or run as root"
                ));
            }
            return Err(Error::msg(msg));
        }
        // 2. Are the controllers the limits need delegated to us?
        let available = words(&base.join("cgroup.controllers"));
        let mut missing = Vec::new();
        for (flag, c) in limits.cgroup_flags() {
            if !available.iter().any(|a| a == c) && !missing.iter().any(|(m, _)| m == &c) {
                missing.push((c, flag));
            }
        }
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|(c, _)| *c).collect();
            let flags: Vec<&str> = missing.iter().map(|(_, f)| *f).collect();
            let (s, are) = if names.len() == 1 {
                ("", "is")
            } else {
                ("s", "are")
            };
            let have = if available.is_empty() {
                "none".to_string()
            } else {
                available.join(" ")
            };
            let bound: Vec<String> = names
                .iter()
                .filter_map(|c| {
                    host.v1
                        .iter()
                        .find(|(v, _)| v == c)
                        .map(|(_, mp)| format!("{c} at {}", mp.display()))
                })
                .collect();
            let what = format!(
                "cgroup controller{s} {} (for {})",
                names.join(", "),
                flags.join(", ")
            );
            let base = base.display();
            return Err(Error::msg(if !bound.is_empty() {
                format!(
                    "{what} {are} not available in {base} (its cgroup.controllers: {have}): bound \
                     to a cgroup v1 hierarchy ({}), which cgroup v2 cannot share; boot with \
                     systemd.unified_cgroup_hierarchy=1",
                    bound.join(", ")
                )
            } else {
                format!(
                    "{what} {are} not delegated to {base} (its cgroup.controllers: {have}): \
                     delegate with the systemd drop-in {DROP_IN} containing \"{DROP_IN_TEXT}\", \
                     then run hutch in a delegated scope (`{SCOPE_HINT}`)"
                )
            }));
        }
        let ctrls = controllers(limits, stats, &available);

        // 3. hutch-<pid>, with the controllers enabled in the caller's subtree_control.
        clean_stale(base);
        let dir = base.join(name);
        fs::create_dir(&dir)
            .map_err(|e| Error::io(format!("cannot create cgroup {}", dir.display()), e))?;
        partial.made.push(dir.clone());
        let in_base = words(&base.join("cgroup.subtree_control"));
        let to_enable: Vec<&'static str> = ctrls
            .iter()
            .copied()
            .filter(|c| !in_base.iter().any(|b| b == c))
            .collect();
        if !to_enable.is_empty() {
            let plus: Vec<String> = to_enable.iter().map(|c| format!("+{c}")).collect();
            let plus = plus.join(" ");
            let control = base.join("cgroup.subtree_control");
            // Threaded controllers (pids, cpu) may be enabled beside processes, but that
            // makes the caller's cgroup a thread root, below which hutch-<pid> cannot
            // enable them (EOPNOTSUPP). So a caller's cgroup that holds processes (hutch)
            // is left first, as when domain controllers fail with EBUSY; the root
            // cgroup may hold processes and enable anything.
            let busy = || io::Error::from_raw_os_error(libc::EBUSY);
            let populated = |d: &Path| !words(&d.join("cgroup.procs")).is_empty();
            let first = if base != host.root.0 && populated(base) {
                Err(busy())
            } else {
                write(&control, &plus)
            };
            match first {
                Ok(()) => {}
                // The caller's cgroup holds processes (hutch): step into a leaf of our
                // own, then a cgroup with no processes may enable controllers.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    let mon = base.join(format!("{name}-monitor"));
                    fs::create_dir(&mon).map_err(|e| {
                        Error::io(format!("cannot create cgroup {}", mon.display()), e)
                    })?;
                    if let Err(e) = write(&mon.join("cgroup.procs"), "0") {
                        let _ = rmdir(&mon);
                        return Err(Error::io(
                            format!("cannot move hutch into {}", mon.display()),
                            e,
                        ));
                    }
                    partial.monitor = Some(mon);
                    let again = if populated(base) {
                        Err(busy())
                    } else {
                        write(&control, &plus)
                    };
                    match again {
                        Ok(()) => partial.enabled_in_base = to_enable,
                        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                            return Err(Error::msg(format!(
                                "cannot enable {} below {}: it holds other processes besides \
                                 hutch (cgroup v2 allows controllers only below cgroups without \
                                 processes): run hutch in a scope of its own, e.g. `{SCOPE_HINT}`",
                                to_enable.join(", "),
                                base.display()
                            )))
                        }
                        Err(e) => {
                            return Err(Error::io(
                                format!("cannot write {plus:?} to {}", control.display()),
                                e,
                            ))
                        }
                    }
                }
                Err(e) => {
                    return Err(Error::io(
                        format!("cannot write {plus:?} to {}", control.display()),
                        e,
                    ))
                }
            }
        }
        // ... and in hutch-<pid>'s, so that the sandbox may make cgroups of its own.
        if !ctrls.is_empty() {
            let plus: Vec<String> = ctrls.iter().map(|c| format!("+{c}")).collect();
            write_ctx(&dir.join("cgroup.subtree_control"), &plus.join(" "))?;
        }

        // 4. The limits.
        if let Some(m) = limits.memory {
            write_ctx(&dir.join("memory.max"), &m.to_string())?;
        }
        if let Some(s) = limits.memory_swap {
            write_ctx(&dir.join("memory.swap.max"), &s.to_string())?;
        }
        if let Some(q) = limits.cpu_quota {
            write_ctx(&dir.join("cpu.max"), &format!("{q} {CPU_PERIOD_US}"))?;
        }
        if let Some(p) = limits.pids {
            write_ctx(&dir.join("pids.max"), &p.to_string())?;
        }
        if let Some(w) = limits.io_weight {
            write_ctx(&dir.join("io.weight"), &format!("default {w}"))?;
        }

        // 5. The sandbox's leaf, open for clone3.
        let sandbox = dir.join("sandbox");
        crate::fault::hit_io(crate::fault::Step::Cgroup)
            .and_then(|()| fs::create_dir(&sandbox))
            .map_err(|e| Error::io(format!("cannot create cgroup {}", sandbox.display()), e))?;
        partial.made.push(sandbox.clone());
        let sandbox_fd = nix::fcntl::open(
            &sandbox,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::io(format!("cannot open {}", sandbox.display()), e.into()))?;
        partial.made.clear();
        Ok(Cgroup {
            base: base.to_path_buf(),
            dir,
            sandbox,
            sandbox_fd,
            monitor: partial.monitor.take(),
            enabled_in_base: std::mem::take(&mut partial.enabled_in_base),
        })
    }

    /// The cgroup with the limits (`hutch-<pid>`).
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The sandbox's leaf, for `clone3(CLONE_INTO_CGROUP)`.
    pub fn sandbox_fd(&self) -> BorrowedFd<'_> {
        self.sandbox_fd.as_fd()
    }

    /// Move hutch into the sandbox's leaf (the fallback without CLONE_INTO_CGROUP).
    pub fn enter_self(&self) -> Result<()> {
        write(&self.sandbox.join("cgroup.procs"), "0").map_err(|e| {
            Error::io(
                format!("cannot move hutch into {}", self.sandbox.display()),
                e,
            )
        })
    }

    /// Move hutch back to where it waits.
    pub fn leave_self(&self) {
        let home = self.monitor.as_deref().unwrap_or(&self.base);
        let _ = write(&home.join("cgroup.procs"), "0");
    }

    /// Kill every process in the sandbox and wait (up to 2 s) until none is left.
    pub fn kill(&self) {
        kill_dir(&self.sandbox);
    }

    /// The sandbox's leaf (`hutch-<pid>/sandbox`).
    pub fn sandbox_path(&self) -> &Path {
        &self.sandbox
    }

    /// CPU time, peak memory and limit events, from `hutch-<pid>`.
    pub fn stats(&self) -> CgroupStats {
        CgroupStats {
            user_usec: key(&self.dir.join("cpu.stat"), "user_usec"),
            system_usec: key(&self.dir.join("cpu.stat"), "system_usec"),
            memory_peak: read(&self.dir.join("memory.peak"))
                .ok()
                .and_then(|s| s.trim().parse().ok()),
            oom_kills: key(&self.dir.join("memory.events"), "oom_kill").unwrap_or(0),
            // Before Linux 6.13 (pids_localevents) the refused fork is counted in the
            // forking process's cgroup (the sandbox's leaf), not in the one whose
            // limit was hit (hutch-<pid>); since, in the latter and its ancestors.
            pids_max_hits: [&self.dir, &self.sandbox]
                .iter()
                .filter_map(|d| key(&d.join("pids.events"), "max"))
                .max()
                .unwrap_or(0),
        }
    }

    /// Remove the cgroups (after [`Cgroup::kill`]), and step back into the caller's.
    pub fn remove(self) -> Result<()> {
        let mut result = Ok(());
        for dir in [&self.sandbox, &self.dir] {
            // A process just killed may take a moment to leave.
            let mut tries = 0;
            loop {
                match rmdir(dir) {
                    Ok(()) => break,
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 100 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => {
                        result = Err(Error::io(
                            format!("cannot remove cgroup {}", dir.display()),
                            e,
                        ));
                        break;
                    }
                }
            }
        }
        drop(self.sandbox_fd);
        if let Some(mon) = &self.monitor {
            leave_monitor(&self.base, mon, &self.enabled_in_base);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Limits;
    use std::ffi::OsString;

    /// A fake cgroup2 tree: the caller's cgroup `/user/app` with some controllers.
    struct Fake {
        _tmp: tempfile::TempDir,
        host: Host,
    }

    impl Fake {
        fn new(controllers: &str, subtree: &str) -> Fake {
            let tmp = tempfile::tempdir().unwrap();
            let base = tmp.path().join("user/app");
            fs::create_dir_all(&base).unwrap();
            fs::write(base.join("cgroup.controllers"), controllers).unwrap();
            fs::write(base.join("cgroup.subtree_control"), subtree).unwrap();
            fs::write(base.join("cgroup.procs"), "").unwrap();
            let host = Host {
                root: CgroupRoot(tmp.path().to_path_buf()),
                caller: PathBuf::from("/user/app"),
                v1: Vec::new(),
                user_bus: true,
            };
            Fake { _tmp: tmp, host }
        }
        fn base(&self) -> PathBuf {
            self.host.caller_dir()
        }
        fn read(&self, rel: &str) -> String {
            fs::read_to_string(self.base().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
        }
    }

    fn limits(flags: &[(&str, &str)]) -> Limits {
        let mut l = Limits::default();
        for (f, v) in flags {
            l.parse_flag(f, &[OsString::from(v)]).unwrap();
        }
        l
    }

    #[test]
    fn detect_from_mountinfo_and_proc_cgroup() {
        let mi = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                  35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
                  39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n\
                  41 31 0:38 / /sys/fs/cgroup/un\\040ified rw,relatime - cgroup2 cgroup2 rw\n";
        let pc = "4:memory:/x\n0::/user.slice/app.scope\n";
        let h = Host::parse(mi, pc, false).unwrap();
        assert_eq!(h.root, CgroupRoot("/sys/fs/cgroup/un ified".into()));
        assert_eq!(h.caller, PathBuf::from("/user.slice/app.scope"));
        assert_eq!(
            h.caller_dir(),
            PathBuf::from("/sys/fs/cgroup/un ified/user.slice/app.scope")
        );
        assert!(h
            .v1
            .contains(&("memory".into(), "/sys/fs/cgroup/memory".into())));
        // The root cgroup.
        let h = Host::parse(mi, "0::/\n", false).unwrap();
        assert_eq!(h.caller_dir(), PathBuf::from("/sys/fs/cgroup/un ified"));
        // A mount of a subtree (a container's view).
        let mi2 = "41 31 0:38 /user.slice /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let h = Host::parse(mi2, "0::/user.slice/a\n", false).unwrap();
        assert_eq!(h.caller_dir(), PathBuf::from("/sys/fs/cgroup/a"));
        // No cgroup v2.
        let e = Host::parse("35 31 0:32 / /m rw - cgroup cgroup rw,memory\n", pc, false);
        assert!(e
            .unwrap_err()
            .to_string()
            .starts_with("cgroup v2 is not mounted"));
        let e = Host::parse(mi, "4:memory:/x\n", false);
        assert!(e.unwrap_err().to_string().contains("no 0:: line"));
    }

    #[test]
    fn creates_the_hierarchy_and_writes_each_limit() {
        let f = Fake::new("cpuset cpu io memory pids", "");
        let l = limits(&[
            ("--memory", "200M"),
            ("--memory-swap", "0"),
            ("--cpus", "1.5"),
            ("--pids", "64"),
            ("--io-weight", "100"),
        ]);
        let cg = Cgroup::create(&f.host, "hutch-42", &l, false).unwrap();
        assert_eq!(cg.path(), f.base().join("hutch-42"));
        assert!(f.base().join("hutch-42/sandbox").is_dir());
        assert_eq!(f.read("cgroup.subtree_control"), "+memory +cpu +pids +io");
        assert_eq!(
            f.read("hutch-42/cgroup.subtree_control"),
            "+memory +cpu +pids +io"
        );
        assert_eq!(f.read("hutch-42/memory.max"), (200u64 << 20).to_string());
        assert_eq!(f.read("hutch-42/memory.swap.max"), "0");
        assert_eq!(f.read("hutch-42/cpu.max"), "150000 100000");
        assert_eq!(f.read("hutch-42/pids.max"), "64");
        assert_eq!(f.read("hutch-42/io.weight"), "default 100");
        // Nothing else was written; hutch stayed where it was.
        assert!(!f.base().join("hutch-42/sandbox/cgroup.procs").exists());
        assert!(!f.base().join("hutch-42-monitor").exists());
        cg.remove().unwrap();
        assert!(!f.base().join("hutch-42").exists());
    }

    #[test]
    fn controllers_already_enabled_are_left_alone() {
        let f = Fake::new("cpu memory pids", "memory pids");
        let l = limits(&[("--pids", "10")]);
        let cg = Cgroup::create(&f.host, "hutch-7", &l, false).unwrap();
        assert_eq!(f.read("cgroup.subtree_control"), "memory pids");
        assert_eq!(f.read("hutch-7/cgroup.subtree_control"), "+pids");
        assert!(!f.base().join("hutch-7/memory.max").exists());
        cg.remove().unwrap();
    }

    #[test]
    fn no_limits_makes_a_plain_cgroup() {
        // `--cgroup required` alone: a cgroup to kill and account, no controller.
        let f = Fake::new("", "");
        let cg = Cgroup::create(&f.host, "hutch-1", &Limits::default(), false).unwrap();
        assert_eq!(f.read("cgroup.subtree_control"), "");
        assert!(!f.base().join("hutch-1/cgroup.subtree_control").exists());
        // --stats adds memory only when it is there.
        cg.remove().unwrap();
        let f = Fake::new("memory", "");
        let cg = Cgroup::create(&f.host, "hutch-1", &Limits::default(), true).unwrap();
        assert_eq!(f.read("cgroup.subtree_control"), "+memory");
        cg.remove().unwrap();
    }

    #[test]
    fn a_missing_controller_is_named_with_the_fix() {
        let f = Fake::new("hugetlb", "");
        let l = limits(&[("--memory", "1G"), ("--memory-swap", "0")]);
        let e = Cgroup::create(&f.host, "hutch-9", &l, false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "cgroup controller memory (for --memory) is not delegated to {} (its \
                 cgroup.controllers: hugetlb): delegate with the systemd drop-in \
                 /etc/systemd/system/user@.service.d/delegate.conf containing \"[Service] \
                 Delegate=cpu cpuset io memory pids\", then run hutch in a delegated scope \
                 (`systemd-run --user --scope -p Delegate=yes hutch ...`)",
                f.base().display()
            )
        );
        // Nothing was made.
        assert!(!f.base().join("hutch-9").exists());
        let l = limits(&[("--pids", "5"), ("--cpus", "1")]);
        let e = Cgroup::create(&f.host, "hutch-9", &l, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cgroup controllers cpu, pids (for --cpus, --pids) are not delegated"),
            "{e}"
        );
        // Bound to cgroup v1 (a hybrid host, like this one).
        let mut f = Fake::new("hugetlb", "");
        f.host.v1 = vec![("memory".into(), "/sys/fs/cgroup/memory".into())];
        let l = limits(&[("--memory", "1G")]);
        let e = Cgroup::create(&f.host, "hutch-9", &l, false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "cgroup controller memory (for --memory) is not available in {} (its \
                 cgroup.controllers: hugetlb): bound to a cgroup v1 hierarchy (memory at \
                 /sys/fs/cgroup/memory), which cgroup v2 cannot share; boot with \
                 systemd.unified_cgroup_hierarchy=1",
                f.base().display()
            )
        );
    }

    #[test]
    fn an_existing_cgroup_is_an_error() {
        let f = Fake::new("memory", "");
        let dir = f.base().join("hutch-5");
        fs::create_dir(&dir).unwrap();
        let e = Cgroup::create(&f.host, "hutch-5", &Limits::default(), false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!("cannot create cgroup {}: File exists", dir.display())
        );
        assert!(dir.exists(), "someone else's cgroup is left alone");
    }

    #[test]
    fn a_failure_halfway_takes_down_what_was_made() {
        // The caller's subtree_control cannot be written (a directory stands there).
        let f = Fake::new("pids", "");
        fs::remove_file(f.base().join("cgroup.subtree_control")).unwrap();
        fs::create_dir(f.base().join("cgroup.subtree_control")).unwrap();
        let l = limits(&[("--pids", "3")]);
        let e = Cgroup::create(&f.host, "hutch-6", &l, false)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cannot write \"+pids\" to "), "{e}");
        assert!(!f.base().join("hutch-6").exists());
    }

    #[test]
    fn a_missing_limit_file_is_explained() {
        let tmp = tempfile::tempdir().unwrap();
        let swap = tmp.path().join("gone/memory.swap.max");
        assert_eq!(
            write_ctx(&swap, "0").unwrap_err().to_string(),
            format!(
                "cannot set {}: no such cgroup file (no swap accounting in this kernel: boot \
                 with swapaccount=1)",
                swap.display()
            )
        );
        let io = tmp.path().join("gone/io.weight");
        assert!(write_ctx(&io, "default 5")
            .unwrap_err()
            .to_string()
            .ends_with(
                "(the io controller offers no io.weight here: the kernel lacks blk-iocost)"
            ));
    }

    #[test]
    fn not_writable() {
        if nix::unistd::getuid().is_root() {
            return; // root writes everywhere
        }
        let f = Fake::new("memory", "");
        let base = f.base();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&base, fs::Permissions::from_mode(0o555)).unwrap();
        let e = Cgroup::create(&f.host, "hutch-3", &Limits::default(), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not writable by you (not delegated)"), "{e}");
        assert!(
            e.contains("systemd-run --user --scope -p Delegate=yes"),
            "{e}"
        );
        fs::set_permissions(&base, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn stats_from_the_cgroup_files() {
        let f = Fake::new("memory pids", "");
        let l = limits(&[("--memory", "1M"), ("--pids", "2")]);
        let cg = Cgroup::create(&f.host, "hutch-8", &l, false).unwrap();
        let d = f.base().join("hutch-8");
        fs::write(
            d.join("cpu.stat"),
            "usage_usec 300\nuser_usec 200\nsystem_usec 100\n",
        )
        .unwrap();
        fs::write(d.join("memory.peak"), "4096\n").unwrap();
        fs::write(
            d.join("memory.events"),
            "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
        )
        .unwrap();
        fs::write(d.join("pids.events"), "max 2\n").unwrap();
        assert_eq!(
            cg.stats(),
            CgroupStats {
                user_usec: Some(200),
                system_usec: Some(100),
                memory_peak: Some(4096),
                oom_kills: 1,
                pids_max_hits: 2
            }
        );
        // kill: cgroup.kill is written when present; cgroup.events says when it is empty.
        fs::write(d.join("sandbox/cgroup.kill"), "").unwrap();
        fs::write(d.join("sandbox/cgroup.events"), "populated 0\nfrozen 0\n").unwrap();
        cg.kill();
        assert_eq!(
            fs::read_to_string(d.join("sandbox/cgroup.kill")).unwrap(),
            "1"
        );
        cg.remove().unwrap();
        assert!(!d.exists());
    }

    #[test]
    fn stale_cgroups_of_dead_hutch_processes_are_removed() {
        let f = Fake::new("", "");
        // pid 0x7ffffff0 does not exist; our own pid does.
        let stale = f.base().join("hutch-2147483632");
        fs::create_dir_all(stale.join("sandbox")).unwrap();
        let live = f.base().join(format!("hutch-{}", std::process::id()));
        fs::create_dir(&live).unwrap();
        let cg = Cgroup::create(&f.host, "hutch-11", &Limits::default(), false).unwrap();
        assert!(!stale.exists());
        assert!(live.exists());
        cg.remove().unwrap();
    }
}
