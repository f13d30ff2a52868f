//! The stages: one piece of the sandbox each, taking its slice of the Plan.
//!
//! - mounts: the new root, every op in order; sockets: the host's unix sockets masked
//! - userns: id maps; caps: capability sets
//! - landlock (its rules), landlock_only (the mode without namespaces), supervise (its
//!   metadata supervisor)
//! - seccomp (BPF programs), seccomp_policy (hutch's built-in policy)
//! - net (`--net user`'s helper, `--publish`), netns (the network namespace made beside),
//!   allow (`--allow-host`/`--allow-net`: the DNS and the relay in the monitor)
//! - cgroup (cgroup v2), limits (rlimits, `--timeout`, `--stats`)
//! - diagnose: why a step failed, in terms a user can act on

pub(crate) mod allow;
pub(crate) mod caps;
pub(crate) mod cgroup;
pub(crate) mod diagnose;
pub(crate) mod landlock;
pub(crate) mod landlock_only;
pub(crate) mod limits;
pub(crate) mod mounts;
pub(crate) mod net;
pub(crate) mod netns;
pub mod seccomp;
pub(crate) mod seccomp_policy;
pub(crate) mod sockets;
pub(crate) mod supervise;
pub mod userns;
