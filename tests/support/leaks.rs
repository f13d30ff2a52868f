//! What a sandbox may leave behind on the host, counted before and after a run (or a
//! thousand): descriptors of the test process, zombies, entries in /tmp and /dev/shm,
//! host mounts, cgroups of the hutch processes started, and processes carrying a tag.
//!
//! Used by tests/faults.rs and tests/load.rs.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super as util;

/// Where hutch makes its cgroups: below the caller's own cgroup on the cgroup2 mount
/// (`/sys/fs/cgroup/unified` on this machine kind, `/sys/fs/cgroup` with cgroup2 alone).
pub fn cgroup2() -> PathBuf {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            (right.split(' ').next()? == "cgroup2").then(|| PathBuf::from(point))
        })
        .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup/unified"))
}

/// The host as it was before.
pub struct Snapshot {
    fds: usize,
    zombies: BTreeSet<i32>,
    tmp: BTreeSet<String>,
    shm: BTreeSet<String>,
    mounts: BTreeSet<String>,
}

/// What is left over (empty: nothing).
#[derive(Default)]
pub struct Leaks {
    /// Descriptors the test process has now but had not before.
    pub fds: isize,
    pub zombies: Vec<String>,
    pub tmp: Vec<String>,
    pub shm: Vec<String>,
    pub mounts: Vec<String>,
    pub cgroups: Vec<PathBuf>,
    pub processes: Vec<String>,
}

/// The number of open descriptors of this process.
pub fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Every process whose parent is this test process, as (pid, state, "PID (COMM) parent
/// PPID"). [`Snapshot::take`] makes the test process a child subreaper, so whatever a
/// run leaves (a process of the sandbox, a network helper) is reparented here, never
/// to pid 1: a zombie elsewhere on the machine (another program's) is not the runs'.
fn children() -> Vec<(i32, char, String)> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses.
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = &stat[stat.find('(').map_or(0, |i| i + 1)..close];
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if rest.next() == Some(me.as_str()) {
            out.push((pid, state, format!("{pid} ({comm}) parent {me}")));
        }
    }
    out
}

/// The children of this test process in state Z (see [`children`]).
fn zombies() -> BTreeSet<(i32, String)> {
    children()
        .into_iter()
        .filter(|(_, state, _)| *state == 'Z')
        .map(|(pid, _, s)| (pid, s))
        .collect()
}

fn zombie_pids() -> BTreeSet<i32> {
    zombies().into_iter().map(|(p, _)| p).collect()
}

/// Processes whose command line or environment holds `tag`, as "PID: CMDLINE".
pub fn tagged_processes(tag: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !util::is_number(&name) || name == me {
            continue;
        }
        let cmdline = fs::read(e.path().join("cmdline")).unwrap_or_default();
        let environ = fs::read(e.path().join("environ")).unwrap_or_default();
        let has = |hay: &[u8]| hay.windows(tag.len()).any(|w| w == tag.as_bytes());
        if has(&cmdline) || has(&environ) {
            let shown: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            out.push(format!("{name}: {}", shown.join(" ").trim()));
        }
    }
    out
}

/// The cgroups hutch process `pid` makes (`hutch-PID`, `hutch-PID-monitor`), wherever
/// they are under the cgroup2 mount.
pub fn cgroups_of(pids: &[i32]) -> Vec<PathBuf> {
    let names: BTreeSet<String> = pids
        .iter()
        .flat_map(|p| [format!("hutch-{p}"), format!("hutch-{p}-monitor")])
        .collect();
    let mut out = Vec::new();
    walk_cgroups(&cgroup2(), 0, &mut |p| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        if names.contains(name.as_ref()) {
            out.push(p.to_path_buf());
        }
    });
    out
}

/// Every cgroup named `hutch-*` under the cgroup2 mount (for figures, not assertions:
/// other hutch runs on the machine make them too).
pub fn all_hutch_cgroups() -> usize {
    let mut n = 0;
    walk_cgroups(&cgroup2(), 0, &mut |p| {
        if p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .starts_with("hutch-")
        {
            n += 1;
        }
    });
    n
}

fn walk_cgroups(dir: &Path, depth: usize, f: &mut dyn FnMut(&Path)) {
    if depth > 8 {
        return;
    }
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let p = e.path();
            f(&p);
            walk_cgroups(&p, depth + 1, f);
        }
    }
}

/// Retry `f` until it returns an empty list or `patience` has passed: what a process
/// that just ended leaves may take a moment to go (a zombie reaped, a cgroup removed).
fn settle<T>(patience: Duration, mut f: impl FnMut() -> Vec<T>) -> Vec<T> {
    let deadline = Instant::now() + patience;
    loop {
        let v = f();
        if v.is_empty() || Instant::now() >= deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Snapshot {
    pub fn take() -> Snapshot {
        // Orphans of the runs come to us, where `zombies` looks for them.
        nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
        // The test directory (support::base) exists before the first count.
        let _ = util::base();
        Snapshot {
            fds: open_fds(),
            zombies: zombie_pids(),
            tmp: util::listing("/tmp"),
            shm: util::listing("/dev/shm"),
            mounts: util::host_mounts(),
        }
    }

    /// What is left now: `tag` marks the processes of the runs, `pids` are the hutch
    /// processes started (for their cgroups), `owner` the uid that ran them: new
    /// entries in /tmp and /dev/shm count when they belong to it and hutch could have
    /// made them (util::hutchs_new_entries: what other programs on the machine make
    /// there meanwhile, even as the same user, does not).
    pub fn leaks(&self, tag: &str, pids: &[i32], owner: u32) -> Leaks {
        use std::os::unix::fs::MetadataExt;
        let owned = |dir: &str, names: Vec<String>| -> Vec<String> {
            names
                .into_iter()
                .filter(|n| {
                    fs::symlink_metadata(Path::new(dir).join(n)).is_ok_and(|m| m.uid() == owner)
                })
                .collect()
        };
        let patience = Duration::from_secs(3);
        let processes = settle(patience, || tagged_processes(tag));
        let zombies = settle(patience, || {
            zombies()
                .into_iter()
                .filter(|(p, _)| !self.zombies.contains(p))
                .map(|(_, s)| s)
                .collect()
        });
        let mounts = settle(patience, || {
            util::host_mounts()
                .difference(&self.mounts)
                .cloned()
                .collect()
        });
        Leaks {
            fds: open_fds() as isize - self.fds as isize,
            zombies,
            tmp: owned("/tmp", util::hutchs_new_entries("/tmp", &self.tmp, &[])),
            shm: owned(
                "/dev/shm",
                util::hutchs_new_entries("/dev/shm", &self.shm, &[]),
            ),
            mounts,
            cgroups: settle(patience, || cgroups_of(pids)),
            processes,
        }
    }
}

impl Snapshot {
    /// What is left after the hutch processes `pids` were killed with SIGKILL (and
    /// reaped): their children were orphaned to this process, the subreaper (on a
    /// host: to init or the session's subreaper), and must die at once
    /// (`--die-with-parent`). Their zombies are reaped here, they are not a leak; a
    /// child of ours still alive after the patience is, listed with the processes.
    pub fn leaks_after_kill(&self, tag: &str, pids: &[i32], owner: u32) -> Leaks {
        let alive = settle(Duration::from_secs(3), || {
            let mut alive = Vec::new();
            for (pid, state, s) in children() {
                if self.zombies.contains(&pid) || pids.contains(&pid) {
                    continue;
                }
                if state == 'Z' {
                    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
                } else {
                    alive.push(format!("orphan {s}"));
                }
            }
            alive
        });
        let mut leaks = self.leaks(tag, pids, owner);
        leaks.processes.extend(alive);
        leaks
    }

    /// Descriptors the test process has now but had not before.
    pub fn new_fds(&self) -> isize {
        open_fds() as isize - self.fds as isize
    }
}

impl Leaks {
    pub fn is_empty(&self) -> bool {
        self.fds <= 0
            && self.zombies.is_empty()
            && self.tmp.is_empty()
            && self.shm.is_empty()
            && self.mounts.is_empty()
            && self.cgroups.is_empty()
            && self.processes.is_empty()
    }

    /// One line of figures: `fds 0, zombies 0, /tmp 0, /dev/shm 0, mounts 0, ...`.
    pub fn figures(&self) -> String {
        format!(
            "fds {}, zombies {}, /tmp {}, /dev/shm {}, mounts {}, cgroups {}, processes {}",
            self.fds.max(0),
            self.zombies.len(),
            self.tmp.len(),
            self.shm.len(),
            self.mounts.len(),
            self.cgroups.len(),
            self.processes.len()
        )
    }
}

impl fmt::Debug for Leaks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.figures())?;
        for (what, list) in [
            ("zombie", &self.zombies),
            ("/tmp", &self.tmp),
            ("/dev/shm", &self.shm),
            ("mount", &self.mounts),
            ("process", &self.processes),
        ] {
            for item in list {
                writeln!(f, "  {what}: {item}")?;
            }
        }
        for c in &self.cgroups {
            writeln!(f, "  cgroup: {}", c.display())?;
        }
        Ok(())
    }
}

/// A tag unique to this test process and call, for argv and the environment.
pub fn tag(what: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "hutch-tag-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
