//! The one helper library of the integration tests: every test binary includes it
//! (`mod support;` in tests/*.rs, `#[path = "../support/mod.rs"] mod support;` in
//! tests/it/main.rs) and uses what it needs. See tests/README.md.
//!
//! - [`hutch`], [`bwrap`] (and [`system_bwrap`], [`User::cmd`] for any program): a
//!   [`Cmd`] builder (cmd.rs) that runs a copy of the built binary that every user can
//!   run, in `/tmp/hutch-test-CRATE-PID/bin`, with a `bwrap` symlink beside it (the one
//!   cargo builds lives under `/work/...` or `/root/...`, which an unprivileged user may
//!   not traverse; `HUTCH_BIN` tests another binary). [`Cmd::run`] gives an [`Out`].
//! - [`User`] (user.rs): root, nobody, `hutchtest`, or the current user; [`users`] and
//!   [`for_each_user`]: root and nobody when the tests run as root.
//! - [`tempdir`], [`tempdir_mode`]: scratch directories in the same per-process
//!   directory. Statics are never dropped: each test process removes the directories of
//!   earlier ones that are gone.
//! - [`skip`]: skip a test with a printed reason, or fail it when CI=true.
//! - [`in_private_net`] (netns.rs): a thread in a network namespace of its own.
//! - [`fixture`] and the sandboxes of tests/it (fixture.rs); what a run leaves on the
//!   host (host.rs, leaks.rs).

// Each test binary compiles this module on its own and uses only part of it (and of
// the re-exports below).
#![allow(dead_code, unused_imports)]

mod cmd;
mod fixture;
mod host;
pub mod leaks;
mod netns;
mod user;

pub use cmd::{
    output, spawn_retry, sq, status_code, wait_child, wait_status, Cmd, Out, Running,
    DEFAULT_TIMEOUT, PATH,
};
pub use fixture::*;
pub use host::*;
pub use netns::in_private_net;
pub use user::{for_each_user, is_root, unprivileged, users, users_with, User, NOBODY};

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The system's bubblewrap, for the differential tests.
pub const SYSTEM_BWRAP: &str = "/usr/bin/bwrap";

/// The start of the name of each test process's directory in /tmp.
/// Names starting with it in /tmp are not leftovers of a sandbox (see host.rs).
pub const TEST_PREFIX: &str = "hutch-test-";

/// This test process's directory, `/tmp/hutch-test-CRATE-PID` (0755, owned by the user
/// running the tests), with `bin/hutch` (0755) and `bin/bwrap` (a symlink to it).
pub fn base() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        remove_stale();
        let crate_name = env!("CARGO_CRATE_NAME");
        let dir = PathBuf::from(format!(
            "/tmp/{TEST_PREFIX}{crate_name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        let bin = dir.join("bin");
        fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("mkdir {}: {e}", bin.display()));
        chmod(&dir, 0o755);
        chmod(&bin, 0o755);
        let hutch = bin.join("hutch");
        fs::copy(tested_binary(), &hutch).expect("copy the hutch binary");
        chmod(&hutch, 0o755);
        std::os::unix::fs::symlink("hutch", bin.join("bwrap")).expect("bwrap symlink");
        dir
    })
}

/// Remove the directories of earlier test processes that are gone.
fn remove_stale() {
    for e in fs::read_dir("/tmp").into_iter().flatten().flatten() {
        let name = e.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEST_PREFIX))
            .and_then(|rest| rest.rsplit_once('-'))
            .and_then(|(_, pid)| pid.parse::<u32>().ok());
        if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// The directory with `hutch` and `bwrap`.
pub fn bin_dir() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| base().join("bin"))
}

/// The copy of hutch, under its own name (hardened defaults).
pub fn hutch_path() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| bin_dir().join("hutch"))
}

/// The copy of hutch through its `bwrap` symlink (bubblewrap's personality).
pub fn bwrap_path() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| bin_dir().join("bwrap"))
}

/// hutch under its own name, run by `user`.
pub fn hutch(user: User) -> Cmd {
    Cmd::new(hutch_path(), user)
}

/// hutch as `bwrap`, run by `user`.
pub fn bwrap(user: User) -> Cmd {
    Cmd::new(bwrap_path(), user)
}

/// The system's bubblewrap ([`SYSTEM_BWRAP`]), run by `user`.
pub fn system_bwrap(user: User) -> Cmd {
    Cmd::new(SYSTEM_BWRAP, user)
}

/// A directory under the per-process test directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }
    /// The path as a string, for command lines.
    pub fn s(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A fresh empty directory (mode 0755) in [`base`] owned by `owner`, so that it is
/// writable inside a sandbox run by that user.
pub fn tempdir(owner: User) -> TempDir {
    let d = tempdir_mode("t", 0o755);
    if is_root() && owner.uid() != 0 {
        std::os::unix::fs::chown(d.path(), Some(owner.uid()), Some(owner.gid()))
            .expect("chown tempdir");
    }
    d
}

/// A fresh directory `TAG-XXXXXX` in [`base`] with `mode` (owned by the test's user),
/// removed on drop.
pub fn tempdir_mode(tag: &str, mode: u32) -> TempDir {
    let d = tempfile::Builder::new()
        .prefix(&format!("{tag}-"))
        .tempdir_in(base())
        .unwrap()
        .keep();
    chmod(&d, mode);
    TempDir(d)
}

pub fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

/// Give `path` and everything below it to `user` (symlinks themselves, not their
/// targets). Nothing to do when the tests do not run as root.
pub fn chown_r(path: &Path, user: User) {
    if !is_root() {
        return;
    }
    let (uid, gid) = user.ids();
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        path,
        Some(uid.into()),
        Some(gid.into()),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    if path.is_dir() && !path.is_symlink() {
        for e in fs::read_dir(path).unwrap().flatten() {
            chown_r(&e.path(), user);
        }
    }
}

/// Whether CI=true: then a missing prerequisite fails a test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skip the test, saying why; with CI=true, fail it instead. The caller returns.
#[track_caller]
pub fn skip(why: &str) {
    assert!(!in_ci(), "CI=true, cannot skip: {why}");
    eprintln!("skipped: {why}");
}

/// Whether `prog` is in one of the usual program directories.
pub fn on_path(prog: &str) -> bool {
    std::env::split_paths("/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin")
        .any(|d| d.join(prog).is_file())
}

/// `sh -c SCRIPT`, its output collected.
pub fn sh(script: &str) -> Output {
    Command::new("sh").args(["-c", script]).output().unwrap()
}

/// The binary under test: `$HUTCH_BIN` if set (CI sets it to the one `cargo install`
/// put in place, see .ci/run), else the one cargo built for these tests.
fn tested_binary() -> PathBuf {
    std::env::var_os("HUTCH_BIN")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_hutch")))
}

/// The running kernel's Landlock ABI (0: none): tests derive what is enforceable from
/// it, never from the machine they were written on (6.18, ABI 7; 6.12: 6; Debian 12's
/// 6.1: 2).
pub fn landlock_abi() -> i32 {
    hutch::sys::landlock_abi()
}

/// `--report`'s Landlock status for hutch's defaults (derived rules, scoping) on this
/// kernel: scoping needs ABI 6, every filesystem right hutch asks for ABI 5.
pub fn default_landlock_status() -> &'static str {
    match landlock_abi() {
        a if a <= 0 => "none",
        a if a < 6 => "partial",
        _ => "full",
    }
}

/// `--report`'s `dropped` list for hutch's defaults on this kernel, as JSON.
pub fn default_landlock_dropped() -> String {
    let abi = landlock_abi();
    let mut out: Vec<&str> = Vec::new();
    if abi <= 0 {
        out.push("landlock (not available in this kernel)");
    } else {
        if abi < 2 {
            out.push("fs:refer");
        }
        if abi < 3 {
            out.push("fs:truncate");
        }
        if abi < 5 {
            out.push("fs:ioctl_dev");
        }
        if abi < 6 {
            out.extend(["scope:abstract_unix_socket", "scope:signal"]);
        }
    }
    let quoted: Vec<String> = out.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// What the test environment (tests/vm/guest) says must hold here: NAME=VALUE in the
/// environment (e.g. HUTCH_TEST_USERNS=off), so that a test fails instead of taking
/// another branch when the host is not what the VM was set up to be.
pub fn vm_says(name: &str, value: &str) -> bool {
    std::env::var(name).is_ok_and(|v| v == value)
}

/// Is `s` all ASCII digits?
pub fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Read a file on the host as a string (panics with the path on error).
#[track_caller]
pub fn read(p: impl AsRef<Path>) -> String {
    let p = p.as_ref();
    fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

pub fn os(s: &str) -> &OsStr {
    OsStr::from_bytes(s.as_bytes())
}
