//! hutch's integration tests: one binary (one link step), one module per area; see
//! tests/README.md for which module a new test goes in. tests/faults.rs and
//! tests/load.rs are binaries of their own: they count the descriptors and processes of
//! the test process, which other tests running beside them would disturb.
//!
//! Every test spawns the built binary (a copy of it that every user can run, invoked
//! as `hutch` or through a `bwrap` symlink); nothing forks inside the test harness.
//! Behaviour tests run once as root and once as an unprivileged user when the suite
//! runs as root (see `support::for_each_user`; the helpers are in tests/support/).
//!
//! - `core`: real sandboxes under the bwrap name, every assertion checked from inside
//!   (or on the host).
//! - `differential`: the same command lines through `/usr/bin/bwrap` and hutch.
//! - `errors`: bad input gives one clean line and exit status 1.
//! - `escape`: attempts to get out of the sandbox, each of which must fail.
//! - `signals`: signals sent to hutch, passed on to the command or not (as bwrap).
//! - `harden`: hutch's hardened defaults (Landlock, seccomp policy, `--report`).
//! - `limits`: `--memory`, `--rlimit`, `--timeout`, `--stats`, cgroups.
//! - `net`: `--net`, `--publish`, in a private network namespace.
//! - `net_allow`: `--allow-host`, `--allow-net` (network by name), against fixtures.
//! - `profiles`: profiles, `--explain`, diagnostics.
//! - `landlock_only`: `--landlock-only`.
//! - `join`: joining a running sandbox (`--userns`, `--pidns`).
//! - `flatpak`: Flatpak and GNOME's thumbnailer driving hutch as `bwrap`.
//! - `fuzz_regressions`: the kept fuzz inputs, replayed.
//! - `oci_cli`: the `hutch oci` command line: its help, and bad command lines.

mod core;
mod differential;
mod errors;
mod escape;
mod flatpak;
mod fuzz_regressions;
mod harden;
mod join;
mod landlock_only;
mod limits;
mod net;
mod net_allow;
mod oci_cli;
mod profiles;
mod signals;
#[path = "../support/mod.rs"]
mod support;
