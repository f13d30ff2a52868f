//! hutch: a rootless Linux sandbox with bubblewrap's command line.
//!
//! The library holds everything; `src/main.rs` is a thin binary over it. The modules
//! are public where the binary or the fuzz targets (`fuzz/`) call into them.
//!
//! The folders show the layers (DESIGN.md; src/layers.rs tests that each module uses
//! only its own layer and those below):
//!
//! ```text
//! src/front/   the front end: command line, profiles, docs, --explain
//! src/run/     the runtime: the monitor and the child (sandbox), pid 1 (init), reports
//! src/plan.rs  every check and decision: Plan::new(&Spec, &Host)
//! src/stage/   one piece of the sandbox each: mounts, user namespace, Landlock,
//!              seccomp, capabilities, network, cgroup and limits
//! src/         the base: the Spec (plain data), errors, units, JSON, faults, and
//!              src/sys.rs, the only `unsafe`
//! ```
//!
//! Every module keeps its short path (`crate::cli`, `crate::sandbox`, `crate::mounts`):
//! the folders re-export them here.

mod front;
mod run;
mod stage;

pub mod error;
pub mod fault;
mod json;
#[cfg(test)]
mod layers;
pub mod oci;
pub mod plan;
pub mod spec;
#[doc(hidden)]
pub mod sys;
mod units;

use front::flags;
#[doc(hidden)]
pub use front::fuzzing;
pub use front::{cli, explain, profile};
pub use run::sandbox;
use run::{init, report};
use stage::{
    allow, caps, cgroup, diagnose, landlock, landlock_only, limits, mounts, net, netns,
    seccomp_policy, sockets, supervise,
};
pub use stage::{seccomp, userns};
