//! hutch's integration tests: one binary, one module per area.
//!
//! Every test spawns the built binary (a copy of it that every user can run, invoked
//! through a `bwrap` symlink so that bubblewrap's defaults apply); nothing forks inside
//! the test harness. Behaviour tests run once as root and once as an unprivileged user
//! when the suite runs as root (see `support::for_each_user`; the helpers are tests/support/).
//!
//! - `core`: real sandboxes, every assertion checked from inside (or on the host).
//! - `differential`: the same command lines through `/usr/bin/bwrap` and hutch.
//! - `errors`: bad input gives one clean line and exit status 1.
//! - `escape`: attempts to get out of the sandbox, each of which must fail.
//! - `signals`: signals sent to hutch, passed on to the command or not (as bwrap).

mod core;
mod differential;
mod errors;
mod escape;
mod signals;
#[path = "../support/mod.rs"]
mod support;
