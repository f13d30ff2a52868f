//! hutch: a rootless Linux sandbox with bubblewrap's command line.
//!
//! The library holds everything; `src/main.rs` is a thin binary over it. The modules
//! are public where the binary or the fuzz targets (`fuzz/`) call into them.

mod caps;
mod cgroup;
pub mod cli;
mod diagnose;
mod docs;
pub mod error;
pub mod explain;
pub mod fault;
#[doc(hidden)]
pub mod fuzzing;
mod init;
mod json;
mod landlock;
mod landlock_only;
mod limits;
mod mounts;
mod net;
mod netns;
pub mod oci;
pub mod profile;
mod report;
pub mod sandbox;
pub mod seccomp;
mod seccomp_policy;
mod sockets;
pub mod spec;
mod supervise;
#[doc(hidden)]
pub mod sys;
mod units;
pub mod userns;
