//! The plan: plain data produced by the command line, consumed by the sandbox.
//! No I/O happens here.

use std::ffi::OsString;
use std::net::IpAddr;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

/// Which name hutch was invoked under. Defaults differ; flags do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    /// Invoked as `bwrap`: every default is bubblewrap's.
    Bwrap,
    /// Invoked as `hutch`: hardening is on by default (Landlock, seccomp policy).
    Hutch,
}

impl Personality {
    pub fn from_argv0(argv0: &std::ffi::OsStr) -> Self {
        let name = std::path::Path::new(argv0).file_name().unwrap_or_default();
        if name.to_string_lossy().starts_with("bwrap") {
            Personality::Bwrap
        } else {
            Personality::Hutch
        }
    }

    /// The prefix of every message hutch prints.
    pub fn name(self) -> &'static str {
        match self {
            Personality::Bwrap => "bwrap",
            Personality::Hutch => "hutch",
        }
    }
}

/// Whether to create a namespace: no, yes, or only if the kernel allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unshare {
    #[default]
    No,
    Yes,
    Try,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub user: Unshare,
    pub ipc: bool,
    pub pid: bool,
    pub net: bool,
    pub uts: bool,
    pub cgroup: Unshare,
    /// `pid` is only hutch's default (a new pid namespace unless `--share-pid`), not
    /// asked for: Landlock-only mode drops it instead of refusing it.
    pub pid_default: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindKind {
    /// `--bind`: read-write, nodev, nosuid.
    ReadWrite,
    /// `--ro-bind`: read-only, nodev, nosuid.
    ReadOnly,
    /// `--dev-bind`: read-write, devices allowed.
    Dev,
}

/// One filesystem operation, applied in command-line order inside the new root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Bind {
        src: PathBuf,
        dest: PathBuf,
        kind: BindKind,
        allow_missing: bool,
    },
    BindFd {
        fd: RawFd,
        dest: PathBuf,
        read_only: bool,
    },
    RemountRo {
        dest: PathBuf,
    },
    Proc {
        dest: PathBuf,
    },
    Dev {
        dest: PathBuf,
    },
    Tmpfs {
        dest: PathBuf,
        perms: Option<u32>,
        size: Option<u64>,
    },
    Mqueue {
        dest: PathBuf,
    },
    Dir {
        dest: PathBuf,
        perms: Option<u32>,
    },
    File {
        fd: RawFd,
        dest: PathBuf,
        perms: Option<u32>,
    },
    BindData {
        fd: RawFd,
        dest: PathBuf,
        perms: Option<u32>,
        read_only: bool,
    },
    Symlink {
        target: PathBuf,
        dest: PathBuf,
    },
    Chmod {
        perms: u32,
        path: PathBuf,
    },
    Overlay {
        sources: Vec<PathBuf>,
        kind: OverlayKind,
        dest: PathBuf,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverlayKind {
    /// `--overlay RWSRC WORKDIR DEST`
    ReadWrite { upper: PathBuf, work: PathBuf },
    /// `--tmp-overlay DEST`: upper and work dirs on an invisible tmpfs.
    Tmp,
    /// `--ro-overlay DEST`: lower layers only.
    ReadOnly,
}

impl Op {
    /// `--bind`/`--ro-bind`/`--dev-bind SRC DEST`, for the unit tests.
    #[cfg(test)]
    pub fn bind(src: &str, dest: &str, kind: BindKind) -> Op {
        Op::Bind {
            src: src.into(),
            dest: dest.into(),
            kind,
            allow_missing: false,
        }
    }

    /// The option that gives this op, without the leading `--` (`ro-bind-try`,
    /// `tmp-overlay`...), for messages and `--explain`.
    pub fn flag(&self) -> &'static str {
        match self {
            Op::Bind {
                kind,
                allow_missing,
                ..
            } => match (kind, allow_missing) {
                (BindKind::ReadWrite, false) => "bind",
                (BindKind::ReadWrite, true) => "bind-try",
                (BindKind::ReadOnly, false) => "ro-bind",
                (BindKind::ReadOnly, true) => "ro-bind-try",
                (BindKind::Dev, false) => "dev-bind",
                (BindKind::Dev, true) => "dev-bind-try",
            },
            Op::BindFd { read_only, .. } => {
                if *read_only {
                    "ro-bind-fd"
                } else {
                    "bind-fd"
                }
            }
            Op::RemountRo { .. } => "remount-ro",
            Op::Proc { .. } => "proc",
            Op::Dev { .. } => "dev",
            Op::Tmpfs { .. } => "tmpfs",
            Op::Mqueue { .. } => "mqueue",
            Op::Dir { .. } => "dir",
            Op::File { .. } => "file",
            Op::BindData { read_only, .. } => {
                if *read_only {
                    "ro-bind-data"
                } else {
                    "bind-data"
                }
            }
            Op::Symlink { .. } => "symlink",
            Op::Chmod { .. } => "chmod",
            Op::Overlay { kind, .. } => match kind {
                OverlayKind::ReadWrite { .. } => "overlay",
                OverlayKind::Tmp => "tmp-overlay",
                OverlayKind::ReadOnly => "ro-overlay",
            },
        }
    }

    /// The destination path inside the sandbox, for messages and ordering checks.
    pub fn dest(&self) -> &std::path::Path {
        match self {
            Op::Bind { dest, .. }
            | Op::BindFd { dest, .. }
            | Op::RemountRo { dest }
            | Op::Proc { dest }
            | Op::Dev { dest }
            | Op::Tmpfs { dest, .. }
            | Op::Mqueue { dest }
            | Op::Dir { dest, .. }
            | Op::File { dest, .. }
            | Op::BindData { dest, .. }
            | Op::Symlink { dest, .. }
            | Op::Overlay { dest, .. } => dest,
            Op::Chmod { path, .. } => path,
        }
    }
}

/// An environment edit, applied in order to hutch's own environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvOp {
    Set(OsString, OsString),
    Unset(OsString),
    Clear,
}

/// A capability change, applied in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapOp {
    Add(CapSet),
    Drop(CapSet),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapSet {
    All,
    One(caps::Capability),
}

/// Seccomp programs read from file descriptors (raw classic BPF).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeccompFds {
    /// `--seccomp FD` (the last one given).
    pub replace: Option<RawFd>,
    /// `--add-seccomp-fd FD`, in order.
    pub add: Vec<RawFd>,
}

/// What an explicit `--landlock-read/-write/-exec PATH` rule grants beneath PATH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathAccess {
    /// `--landlock-read`: read files, list directories.
    Read,
    /// `--landlock-write`: read, plus write, create, remove, rename, truncate, ioctl on devices.
    Write,
    /// `--landlock-exec`: read, plus execute.
    Exec,
}

/// Which filesystem rules Landlock enforces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LandlockFs {
    /// No filesystem restriction.
    Off,
    /// Rules derived from the mount plan (`Spec::ops`).
    Derived,
    /// The user's `--landlock-read/-write/-exec` rules, in order; they replace the derived ones.
    Explicit(Vec<(PathBuf, PathAccess)>),
}

/// The Landlock part of the plan. Defaults depend on the personality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandlockSpec {
    pub fs: LandlockFs,
    /// `--landlock-connect PORT`: when any is given, TCP connect to other ports is denied.
    pub connect: Vec<u16>,
    /// `--landlock-bind PORT`: when any is given, TCP bind to other ports is denied.
    pub bind: Vec<u16>,
    /// Scoping (ABI 6): no abstract unix sockets or signals out of the sandbox.
    pub scope: bool,
    /// `--landlock-strict`: fail if the kernel cannot enforce everything asked.
    pub strict: bool,
}

impl LandlockSpec {
    pub fn new(personality: Personality) -> Self {
        let hutch = personality == Personality::Hutch;
        LandlockSpec {
            fs: if hutch {
                LandlockFs::Derived
            } else {
                LandlockFs::Off
            },
            connect: Vec::new(),
            bind: Vec::new(),
            scope: hutch,
            strict: false,
        }
    }

    /// Whether any Landlock restriction is asked for.
    pub fn enabled(&self) -> bool {
        self.fs != LandlockFs::Off
            || !self.connect.is_empty()
            || !self.bind.is_empty()
            || self.scope
    }
}

/// Where the built-in seccomp policy comes from (`--seccomp-policy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    None,
    /// hutch's built-in deny list.
    Default,
    /// A seccompiler JSON file (every filter in it is installed).
    File(PathBuf),
}

/// What the built-in policy does to a denied call (`--seccomp-action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyAction {
    /// Fail with EPERM (ENOSYS for clone3).
    Errno,
    /// Kill the process.
    Kill,
    /// Allow, but log to the audit log.
    Log,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeccompPolicy {
    pub source: PolicySource,
    pub action: PolicyAction,
}

impl SeccompPolicy {
    pub fn new(personality: Personality) -> Self {
        SeccompPolicy {
            source: match personality {
                Personality::Hutch => PolicySource::Default,
                Personality::Bwrap => PolicySource::None,
            },
            action: PolicyAction::Errno,
        }
    }
}

/// Host pathname unix sockets (`--host-sockets`, `--allow-socket`; src/stage/sockets.rs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSocketsSpec {
    /// Mask the host's sockets the mounts show (the default as hutch).
    pub block: bool,
    /// `--allow-socket PATH` (as seen inside): sockets left reachable, in order.
    pub allow: Vec<PathBuf>,
}

/// Whether the sandbox runs without namespaces, confined by Landlock, seccomp and
/// no_new_privs only (src/stage/landlock_only.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LandlockOnly {
    /// Namespaces, as usual.
    #[default]
    Off,
    /// `--landlock-only`: never namespaces.
    On,
    /// `--landlock-only-fallback`: namespaces if they can be made here, else Landlock-only.
    Fallback,
}

/// Where `--report`/`--report-fd` send the enforcement report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportTo {
    Stderr,
    Fd(RawFd),
}

/// Everything the sandbox needs, as parsed from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub personality: Personality,
    pub ns: Namespaces,
    pub userns_fd: Option<RawFd>,
    pub userns2_fd: Option<RawFd>,
    pub pidns_fd: Option<RawFd>,
    pub disable_userns: bool,
    pub assert_userns_disabled: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub hostname: Option<OsString>,
    pub ops: Vec<Op>,
    pub env: Vec<EnvOp>,
    pub chdir: Option<PathBuf>,
    pub argv0: Option<OsString>,
    pub command: Vec<OsString>,
    pub caps: Vec<CapOp>,
    pub as_pid_1: bool,
    pub die_with_parent: bool,
    /// Descriptors the command may inherit besides stdio: `None` inherits all
    /// (bwrap's default), `Some(list)` closes every other one (hutch's default).
    pub keep_fds: Option<Vec<RawFd>>,
    pub new_session: bool,
    /// `--forward-signals` (the default as hutch): SIGTERM, SIGINT, SIGHUP, SIGQUIT,
    /// SIGUSR1 and SIGUSR2 reaching hutch are passed on to the command.
    pub forward_signals: bool,
    pub lock_files: Vec<PathBuf>,
    pub sync_fd: Option<RawFd>,
    pub block_fd: Option<RawFd>,
    pub userns_block_fd: Option<RawFd>,
    pub info_fd: Option<RawFd>,
    pub json_status_fd: Option<RawFd>,
    pub seccomp: SeccompFds,
    pub exec_label: Option<String>,
    pub file_label: Option<String>,
    pub level_prefix: bool,
    pub landlock: LandlockSpec,
    pub seccomp_policy: SeccompPolicy,
    /// Host pathname unix sockets: masked unless granted (src/stage/sockets.rs).
    pub host_sockets: HostSocketsSpec,
    /// `--landlock-only`, `--landlock-only-fallback`.
    pub landlock_only: LandlockOnly,
    /// `--landlock-only-metadata allow`: no metadata supervisor (src/stage/supervise.rs).
    pub landlock_only_metadata_allow: bool,
    pub report: Option<ReportTo>,
    /// Resource limits and accounting (`--memory`, `--rlimit`, `--timeout`, `--stats`...).
    pub limits: Limits,
    /// `--net user`, `--publish`... (src/stage/net.rs). Whether there is a new network
    /// namespace at all is `ns.net`.
    pub net: NetSpec,
    /// `--explain`: print the plan instead of running it (src/front/explain.rs).
    pub explain: bool,
    /// `--profile`s, in order, with the options each became (for `--explain`).
    pub profiles: Vec<UsedProfile>,
    /// `--bind-create` sources, created on the host if missing just before the start.
    pub host_dirs: Vec<PathBuf>,
    /// Under the hutch name, hutch's own configuration directories on the host
    /// (`$XDG_CONFIG_HOME/hutch`, `/etc/hutch`): read-only wherever the sandbox sees them.
    pub config_dirs: Vec<PathBuf>,
}

impl Spec {
    pub fn new(personality: Personality) -> Self {
        Spec {
            personality,
            ns: Namespaces::default(),
            userns_fd: None,
            userns2_fd: None,
            pidns_fd: None,
            disable_userns: false,
            assert_userns_disabled: false,
            uid: None,
            gid: None,
            hostname: None,
            ops: Vec::new(),
            env: Vec::new(),
            chdir: None,
            argv0: None,
            command: Vec::new(),
            caps: Vec::new(),
            as_pid_1: false,
            // Under the hutch name the sandbox ends with its parent, and inherits
            // no descriptor that was not named on the command line.
            die_with_parent: personality == Personality::Hutch,
            keep_fds: (personality == Personality::Hutch).then(Vec::new),
            new_session: false,
            forward_signals: personality == Personality::Hutch,
            lock_files: Vec::new(),
            sync_fd: None,
            block_fd: None,
            userns_block_fd: None,
            info_fd: None,
            json_status_fd: None,
            seccomp: SeccompFds::default(),
            exec_label: None,
            file_label: None,
            level_prefix: false,
            landlock: LandlockSpec::new(personality),
            seccomp_policy: SeccompPolicy::new(personality),
            host_sockets: HostSocketsSpec {
                block: personality == Personality::Hutch,
                allow: Vec::new(),
            },
            landlock_only: LandlockOnly::Off,
            landlock_only_metadata_allow: false,
            report: None,
            limits: Limits::default(),
            net: NetSpec::default(),
            explain: false,
            profiles: Vec::new(),
            host_dirs: Vec::new(),
            config_dirs: Vec::new(),
        }
    }

    /// Whether the sandbox needs a devpts (and so uid 0 mapped while setting up).
    pub fn needs_devpts(&self) -> bool {
        self.ops.iter().any(|op| matches!(op, Op::Dev { .. }))
    }
}

// Limits (parsed and applied in src/stage/limits.rs and src/stage/cgroup.rs).

/// The cpu.max period `--cpus` is expressed in, in microseconds.
pub const CPU_PERIOD_US: u64 = 100_000;

/// `--cgroup`: what to do when no cgroup can be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    /// Fail, naming the cause and the fix.
    Required,
    /// Warn once and run without the cgroup limits (`--stats` lists them).
    BestEffort,
    /// Never make a cgroup.
    Off,
}

/// The resources `--rlimit` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RlimitName {
    As,
    Core,
    Cpu,
    Data,
    Fsize,
    Memlock,
    Nofile,
    Nproc,
    Stack,
}

/// One `--rlimit NAME=SOFT[:HARD]`; `None` is unlimited. A lone value sets both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub name: RlimitName,
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// Where `--stats`/`--stats-fd` write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsTo {
    Stderr,
    Fd(RawFd),
}

/// The limits part of the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// `--memory`: memory.max, in bytes.
    pub memory: Option<u64>,
    /// `--memory-swap`: memory.swap.max (swap on top of `--memory`), in bytes.
    pub memory_swap: Option<u64>,
    /// `--cpus` as a cpu.max quota, in microseconds per `CPU_PERIOD_US`.
    pub cpu_quota: Option<u64>,
    /// `--pids`: pids.max.
    pub pids: Option<u64>,
    /// `--io-weight`: io.weight's default, 1-10000.
    pub io_weight: Option<u16>,
    /// `--rlimit`, one per resource (the last one given wins).
    pub rlimits: Vec<Rlimit>,
    /// `--timeout`: wall clock, from the start of the sandbox.
    pub timeout: Option<Duration>,
    pub stats: Option<StatsTo>,
    /// `--cgroup` as given; see `Limits::cgroup_mode` (src/stage/limits.rs).
    pub cgroup: Option<CgroupMode>,
    /// The size bound of every tmpfs made without `--size` (`--tmpfs-size`; by default
    /// `limits::default_tmpfs_size` under the hutch name, none under the bwrap name).
    pub tmpfs_size: Option<u64>,
    /// `--tmpfs-size` given (`Some(None)`: unlimited).
    pub tmpfs_size_given: Option<Option<u64>>,
    /// Under the hutch name without `--rlimit nproc`: `limits::DEFAULT_NPROC`, where it bounds
    /// the sandbox alone (see `Limits::default_nproc`).
    pub nproc_default: bool,
}

// The network (parsed and carried out in src/stage/net.rs).

/// `--publish`'s protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

/// One `--publish`: a port on the host forwarded to a port in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// The host address to listen on; every address when `None`.
    pub host_addr: Option<IpAddr>,
    pub host_port: u16,
    pub sandbox_port: u16,
    pub proto: Proto,
}

/// The network part of the plan. Whether a network namespace is made at all is
/// `Namespaces::net`; `user` adds the helper (src/stage/net.rs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetSpec {
    /// `--net user`.
    pub user: bool,
    /// `--net-allow-host-loopback`: the gateway address reaches the host's loopback.
    pub allow_host_loopback: bool,
    /// `--publish`, in order.
    pub publish: Vec<Publish>,
    /// `--allow-host`, `--allow-net`: a namespace of its own whose allowed traffic
    /// hutch relays (src/stage/allow.rs).
    pub allow_host: Vec<HostRule>,
    pub allow_net: Vec<NetRule>,
}

impl NetSpec {
    /// Whether `--allow-host`/`--allow-net` rules are in force.
    pub fn filtered(&self) -> bool {
        !self.allow_host.is_empty() || !self.allow_net.is_empty()
    }
}

/// One `--allow-host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    /// Lower case, without a trailing dot, without the `*.` of a wildcard.
    pub name: String,
    /// `*.NAME`: every name below NAME.
    pub wildcard: bool,
    pub ports: Vec<u16>,
}

/// One `--allow-net`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRule {
    pub addr: IpAddr,
    pub prefix: u8,
    pub ports: Vec<u16>,
}

// Profiles (src/front/profile.rs).

/// What one `--profile` (and everything it includes) became, for `--explain`
/// (src/front/profile.rs makes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedProfile {
    /// As given to `--profile`.
    pub given: String,
    /// Every file read, in order: the profile, then its includes.
    pub files: Vec<String>,
    /// The profile's `description`.
    pub description: Option<String>,
    /// The flags it expanded to.
    pub args: Vec<OsString>,
    /// One line for each file that others may have written (see `profile::ownership`).
    pub warnings: Vec<String>,
}
