//! Load: many sandboxes started at once all succeed, and many started one after the
//! other leave nothing behind: descriptors of the starting process, zombies, entries in
//! /tmp and /dev/shm, host mounts, cgroups, processes (counted before and after, see
//! tests/support/leaks.rs). As root (with `--cgroup required`, so that each start makes
//! and removes a cgroup) and as an unprivileged user (nobody, through `setpriv`).
//!
//! - `load_small` (in `cargo test`): 50 at once and 500 in a row, per user.
//! - `load_full` (ignored; `bench/load` runs it): `HUTCH_LOAD_PARALLEL` (200) at once
//!   and `HUTCH_LOAD_SEQUENTIAL` (10000) in a row, for `HUTCH_LOAD_USERS` (`root`,
//!   `nobody` or `both`, the default; without root, the current user). Prints figures.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::leaks::{self, Snapshot};
use support::User;

/// The sandbox started: hutch's defaults and a usual root; the command does nothing.
fn command(user: User, tag: &str) -> Command {
    #[rustfmt::skip]
    let mut c = support::hutch(user).args([
        "--unshare-all",
        "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/bin", "/bin",
        "--symlink", "usr/lib", "/lib",
        "--symlink", "usr/lib64", "/lib64",
        "--proc", "/proc",
        "--dev", "/dev",
        "--tmpfs", "/tmp",
    ]);
    if user.is_root() {
        c = c.args(["--cgroup", "required"]);
    }
    let mut c = c
        .args(["/usr/bin/true", tag])
        .env("HUTCH_TEST_TAG", tag)
        .command();
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

/// One batch of starts: how many, how many failed (with the first failure), how long.
struct Batch {
    starts: usize,
    failures: usize,
    first_failure: Option<String>,
    wall: Duration,
}

impl Batch {
    fn line(&self, what: &str) -> String {
        format!(
            "{what:<10} {:>6} starts, {} failures, {:.2} s wall, {:.1} starts/s",
            self.starts,
            self.failures,
            self.wall.as_secs_f64(),
            self.starts as f64 / self.wall.as_secs_f64()
        )
    }
}

fn finish(child: Child, batch: &mut Batch) {
    let out = child.wait_with_output().expect("wait");
    if !out.status.success() {
        batch.failures += 1;
        if batch.first_failure.is_none() {
            batch.first_failure = Some(format!(
                "{:?}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
}

/// `n` sandboxes started at once, then waited for.
fn parallel(user: User, tag: &str, n: usize, pids: &mut Vec<i32>) -> Batch {
    let mut batch = Batch {
        starts: n,
        failures: 0,
        first_failure: None,
        wall: Duration::ZERO,
    };
    let start = Instant::now();
    let children: Vec<Child> = (0..n)
        .map(|_| command(user, tag).spawn().expect("spawn hutch"))
        .collect();
    pids.extend(children.iter().map(|c| c.id() as i32));
    for c in children {
        finish(c, &mut batch);
    }
    batch.wall = start.elapsed();
    batch
}

/// `n` sandboxes, one after the other.
fn sequential(user: User, tag: &str, n: usize, pids: &mut Vec<i32>) -> Batch {
    let mut batch = Batch {
        starts: n,
        failures: 0,
        first_failure: None,
        wall: Duration::ZERO,
    };
    let start = Instant::now();
    for _ in 0..n {
        let c = command(user, tag).spawn().expect("spawn hutch");
        pids.push(c.id() as i32);
        finish(c, &mut batch);
    }
    batch.wall = start.elapsed();
    batch
}

/// Both batches for `user`, the figures printed; panics on a failure or a leak.
fn load(user: User, n_parallel: usize, n_sequential: usize) {
    let who = match user {
        User::Root => "root (with --cgroup required)".to_string(),
        User::Nobody => "nobody (uid 65534, through setpriv)".to_string(),
        User::Current | User::Unprivileged => format!("the current user (uid {})", user.uid()),
    };
    let tag = leaks::tag("load");
    let cgroups_before = leaks::all_hutch_cgroups();
    let before = Snapshot::take();
    let fds_before = leaks::open_fds();
    let mut pids = Vec::new();
    let par = parallel(user, &tag, n_parallel, &mut pids);
    let seq = sequential(user, &tag, n_sequential, &mut pids);
    let fds_after = leaks::open_fds();
    let left = before.leaks(&tag, &pids, user.uid());
    let cgroups_after = leaks::all_hutch_cgroups();
    println!("load as {who}:");
    println!("  {}", par.line("at once"));
    println!("  {}", seq.line("in a row"));
    println!("  leaks: {}", left.figures());
    println!(
        "  (open fds of the test process {fds_before} -> {fds_after}; hutch-* cgroups on \
         the machine {cgroups_before} -> {cgroups_after})"
    );
    for (b, what) in [(&par, "at once"), (&seq, "in a row")] {
        assert_eq!(
            b.failures,
            0,
            "{who}: {} of {} starts {what} failed; the first: {}",
            b.failures,
            b.starts,
            b.first_failure.as_deref().unwrap_or("")
        );
    }
    assert!(left.is_empty(), "{who}: left behind: {left:?}");
}

fn users_from_env() -> Vec<User> {
    if !support::is_root() {
        return vec![User::Current];
    }
    match std::env::var("HUTCH_LOAD_USERS").as_deref() {
        Ok("root") => vec![User::Root],
        Ok("nobody") => vec![User::Nobody],
        Ok("both") | Err(_) => vec![User::Root, User::Nobody],
        Ok(other) => panic!("HUTCH_LOAD_USERS: {other:?} is not root, nobody or both"),
    }
}

fn size_from_env(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}: {v:?} is not a number")),
        Err(_) => default,
    }
}

/// The CI-sized run: 50 at once and 500 in a row, per user.
#[test]
fn load_small() {
    for user in support::users() {
        load(user, 50, 500);
    }
}

/// The full run, from `bench/load`.
#[test]
#[ignore = "minutes long: run by bench/load"]
fn load_full() {
    let n_parallel = size_from_env("HUTCH_LOAD_PARALLEL", 200);
    let n_sequential = size_from_env("HUTCH_LOAD_SEQUENTIAL", 10_000);
    for user in users_from_env() {
        load(user, n_parallel, n_sequential);
    }
}
