//! Helpers shared by every integration test.
//!
//! - A copy of the built binary that every user can run (the one cargo builds lives under
//!   `/work/...` or `/root/...`, which the unprivileged user may not traverse), with a `bwrap`
//!   symlink next to it so that hutch runs with bubblewrap's personality.
//! - A runner: one command line, run as the current user or as an unprivileged user (through
//!   `setpriv`), from `/`, with stdin from `/dev/null`, optional shell redirections to hand it
//!   file descriptors, and a timeout so that a hang fails the test instead of hanging CI.
//! - A read-only fixture tree, writable temporary directories, and small parsers.

#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The unprivileged user the tests switch to when they run as root.
pub const NOBODY: u32 = 65534;
/// The system's bubblewrap, for the differential tests.
pub const SYSTEM_BWRAP: &str = "/usr/bin/bwrap";
/// Every sandbox is killed after this long.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// Names in the host's /tmp that belong to test runs, and are not leftovers of a sandbox.
pub const TEST_PREFIX: &str = "hutch-it-";

struct Env {
    base: PathBuf,
    hutch: PathBuf,
    bwrap: PathBuf,
    fixture: PathBuf,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(setup)
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

fn write(p: &Path, data: impl AsRef<[u8]>, mode: u32) {
    fs::write(p, data).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
    chmod(p, mode);
}

fn mkdir(p: &Path, mode: u32) {
    fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    chmod(p, mode);
}

/// Remove the directories of earlier test processes that are gone (a test process
/// cannot clean up at exit: statics are never dropped).
fn clean_stale() {
    let Ok(entries) = fs::read_dir("/tmp") else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(TEST_PREFIX)) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

fn setup() -> Env {
    clean_stale();
    let base = PathBuf::from(format!("/tmp/{TEST_PREFIX}{}", std::process::id()));
    let _ = fs::remove_dir_all(&base);
    mkdir(&base, 0o755);
    let bin = base.join("bin");
    mkdir(&bin, 0o755);
    let hutch = bin.join("hutch");
    fs::copy(tested_binary(), &hutch).expect("copy the hutch binary");
    chmod(&hutch, 0o755);
    let bwrap = bin.join("bwrap");
    symlink("hutch", &bwrap).expect("bwrap symlink");
    let fixture = base.join("fixture");
    make_fixture(&fixture);
    Env {
        base,
        hutch,
        bwrap,
        fixture,
    }
}

/// A small read-only tree that every test may bind from.
fn make_fixture(f: &Path) {
    mkdir(f, 0o755);
    write(&f.join("file"), "hello\n", 0o644);
    write(&f.join("data"), "some data\n", 0o644);
    write(&f.join("empty"), "", 0o644);
    mkdir(&f.join("dir/sub"), 0o755);
    chmod(&f.join("dir"), 0o755);
    write(&f.join("dir/a"), "a\n", 0o644);
    write(&f.join("dir/sub/b"), "b\n", 0o644);
    symlink("file", f.join("link")).unwrap();
    // Readable by root only: the unprivileged user gets EACCES under it.
    mkdir(&f.join("private"), 0o700);
    write(&f.join("private/x"), "secret\n", 0o600);
    // Overlay layers (for hutch's 0.11 overlay options).
    mkdir(&f.join("lower1"), 0o755);
    write(&f.join("lower1/one"), "lower1\n", 0o644);
    write(&f.join("lower1/both"), "from lower1\n", 0o644);
    mkdir(&f.join("lower2"), 0o755);
    write(&f.join("lower2/two"), "lower2\n", 0o644);
    write(&f.join("lower2/both"), "from lower2\n", 0o644);
    // Seccomp programs.
    write(&f.join("seccomp-uname.bpf"), bpf_deny_uname(), 0o644);
    write(&f.join("seccomp-allow.bpf"), bpf_allow_all(), 0o644);
    write(&f.join("seccomp-bad.bpf"), [0u8; 12], 0o644);
    // An --args file with many operations.
    write(&f.join("args-many"), nul_args(&many_ops_args(f)), 0o644);
    write(
        &f.join("args-cmd"),
        nul_args(&["--setenv", "A", "from-file", "echo", "command-in-file"]),
        0o644,
    );
    write(&f.join("args-nested"), nul_args(&["--args", "3"]), 0o644);
    write(
        &f.join("args-env"),
        nul_args(&["--setenv", "FROM_ARGS", "yes"]),
        0o644,
    );
    // A script that is not executable.
    write(&f.join("noexec.sh"), "#!/bin/sh\necho hi\n", 0o644);
    write(
        &f.join("exec.sh"),
        "#!/bin/sh\necho \"script $0 $*\"\n",
        0o755,
    );
}

/// 300 directories and 100 file binds, for `--args`.
pub fn many_ops_args(f: &Path) -> Vec<String> {
    let mut a = vec!["--tmpfs".to_string(), "/many".to_string()];
    for i in 0..300 {
        a.push("--dir".into());
        a.push(format!("/many/d{i}"));
    }
    for i in 0..100 {
        a.push("--ro-bind".into());
        a.push(f.join("file").display().to_string());
        a.push(format!("/many/f{i}"));
    }
    a
}

pub fn nul_args<S: AsRef<str>>(args: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in args {
        out.extend_from_slice(a.as_ref().as_bytes());
        out.push(0);
    }
    out
}

/// The per-process test directory on the host (under /tmp, traversable by everyone).
pub fn base() -> &'static Path {
    &env().base
}

/// The read-only fixture tree.
pub fn fixture() -> &'static Path {
    &env().fixture
}

/// hutch, invoked through the `bwrap` symlink (bubblewrap's personality).
pub fn hutch_bin() -> &'static Path {
    &env().bwrap
}

/// hutch, invoked under its own name.
pub fn hutch_own_bin() -> &'static Path {
    &env().hutch
}

// ---------------------------------------------------------------------------------------
// Users

/// Who runs the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum User {
    /// The test process is root and runs the sandbox as root.
    Root,
    /// The test process is root and runs the sandbox as uid/gid 65534 via setpriv.
    Nobody,
    /// The test process is not root: the sandbox runs as the current user.
    Current,
}

pub fn running_as_root() -> bool {
    nix::unistd::geteuid().is_root()
}

impl User {
    /// The sandbox is started by real root (no user namespace is implied).
    pub fn is_root(self) -> bool {
        self == User::Root
    }
    pub fn uid(self) -> u32 {
        match self {
            User::Root => 0,
            User::Nobody => NOBODY,
            User::Current => nix::unistd::getuid().as_raw(),
        }
    }
    pub fn gid(self) -> u32 {
        match self {
            User::Root => 0,
            User::Nobody => NOBODY,
            User::Current => nix::unistd::getgid().as_raw(),
        }
    }
}

/// Root and the unprivileged user when the tests run as root; the current user otherwise.
pub fn users() -> Vec<User> {
    if running_as_root() {
        vec![User::Root, User::Nobody]
    } else {
        vec![User::Current]
    }
}

/// The unprivileged user: nobody when the tests run as root, else the current user.
pub fn unprivileged() -> User {
    if running_as_root() {
        User::Nobody
    } else {
        User::Current
    }
}

/// Run a behaviour check once per user (see [`users`]).
pub fn for_each_user(f: impl Fn(User)) {
    for u in users() {
        f(u);
    }
}

// ---------------------------------------------------------------------------------------
// Temporary directories

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

/// A fresh empty directory (mode 0755) owned by `owner`, so that it is writable inside a
/// sandbox run by that user.
pub fn tempdir(owner: User) -> TempDir {
    static N: AtomicUsize = AtomicUsize::new(0);
    let p = base().join(format!("t{}", N.fetch_add(1, Ordering::Relaxed)));
    let _ = fs::remove_dir_all(&p);
    mkdir(&p, 0o755);
    if running_as_root() && owner.uid() != 0 {
        std::os::unix::fs::chown(&p, Some(owner.uid()), Some(owner.gid())).expect("chown tempdir");
    }
    TempDir(p)
}

/// Quote a string for the shell.
pub fn sq(s: impl AsRef<str>) -> String {
    format!("'{}'", s.as_ref().replace('\'', r"'\''"))
}

// ---------------------------------------------------------------------------------------
// The runner

/// One command line to run (see the module docs).
#[derive(Clone)]
pub struct Cmd {
    prog: PathBuf,
    args: Vec<OsString>,
    user: User,
    redirs: Vec<String>,
    umask: Option<u32>,
    cwd: PathBuf,
    envs: Vec<(OsString, Option<OsString>)>,
    timeout: Duration,
}

/// hutch as `bwrap`, run by `user`.
pub fn hutch(user: User) -> Cmd {
    Cmd::new(hutch_bin(), user)
}

/// The system's bubblewrap, run by `user`.
pub fn system_bwrap_cmd(user: User) -> Cmd {
    Cmd::new(Path::new(SYSTEM_BWRAP), user)
}

impl Cmd {
    pub fn new(prog: &Path, user: User) -> Cmd {
        Cmd {
            prog: prog.to_path_buf(),
            args: Vec::new(),
            user,
            redirs: Vec::new(),
            umask: None,
            cwd: PathBuf::from("/"),
            // A fixed PATH and the C locale, so that outputs do not depend on the caller.
            envs: vec![
                (
                    "PATH".into(),
                    Some("/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin".into()),
                ),
                ("LC_ALL".into(), Some("C".into())),
            ],
            timeout: DEFAULT_TIMEOUT,
        }
    }
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_os_string());
        self
    }
    pub fn args<I, S>(mut self, it: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(it.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }
    /// `sh -c SCRIPT` as the command.
    pub fn sh(self, script: &str) -> Self {
        self.args(["sh", "-c", script])
    }
    /// A bash redirection applied to the sandbox process only, e.g. `3<file`,
    /// `4>file`, `5< <(sleep 1; printf x)`.
    pub fn redir(mut self, r: impl Into<String>) -> Self {
        self.redirs.push(r.into());
        self
    }
    /// Open `path` for reading as descriptor `fd` of the sandbox process.
    pub fn fd_in(self, fd: u32, path: &Path) -> Self {
        let r = format!("{fd}<{}", sq(path.display().to_string()));
        self.redir(r)
    }
    /// Open `path` for writing (created, truncated) as descriptor `fd` of the sandbox process.
    pub fn fd_out(self, fd: u32, path: &Path) -> Self {
        let r = format!("{fd}>{}", sq(path.display().to_string()));
        self.redir(r)
    }
    /// Start the command with this umask (the tests' own is usually 022).
    pub fn umask(mut self, mask: u32) -> Self {
        self.umask = Some(mask);
        self
    }
    pub fn cwd(mut self, p: impl AsRef<Path>) -> Self {
        self.cwd = p.as_ref().to_path_buf();
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.push((k.into(), Some(v.into())));
        self
    }
    pub fn env_remove(mut self, k: &str) -> Self {
        self.envs.push((k.into(), None));
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    pub fn user(&self) -> User {
        self.user
    }

    /// The argv that is executed (the program, through setpriv when needed).
    fn argv(&self) -> Vec<OsString> {
        let mut argv: Vec<OsString> = Vec::new();
        if self.user == User::Nobody {
            argv.extend(
                [
                    "setpriv",
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                ]
                .iter()
                .map(OsString::from),
            );
        }
        argv.push(self.prog.clone().into_os_string());
        argv.extend(self.args.iter().cloned());
        argv
    }

    /// A readable rendering, for failure messages.
    pub fn display(&self) -> String {
        let mut s = format!("[{:?}] ", self.user);
        let parts: Vec<String> = self
            .argv()
            .iter()
            .map(|a| {
                let t = a.to_string_lossy();
                if !t.is_empty()
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_./=,:%+@".contains(&b))
                {
                    t.into_owned()
                } else {
                    sq(&*t)
                }
            })
            .collect();
        s.push_str(&parts.join(" "));
        for r in &self.redirs {
            s.push(' ');
            s.push_str(r);
        }
        if let Some(m) = self.umask {
            s.push_str(&format!(" (umask {m:03o})"));
        }
        s
    }

    fn command(&self) -> Command {
        let argv = self.argv();
        let mut c = if self.redirs.is_empty() && self.umask.is_none() {
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        } else {
            // bash opens the redirections for this one process only: nothing leaks
            // into the sandboxes that other test threads start at the same time.
            let umask = self
                .umask
                .map(|m| format!("umask {m:03o}; "))
                .unwrap_or_default();
            let mut c = Command::new("/bin/bash");
            c.arg("-c")
                .arg(format!("{umask}exec \"$@\" {}", self.redirs.join(" ")))
                .arg("bash")
                .args(&argv);
            c
        };
        c.current_dir(&self.cwd);
        for (k, v) in &self.envs {
            match v {
                Some(v) => c.env(k, v),
                None => c.env_remove(k),
            };
        }
        c
    }

    /// Start the command in its own process group; output goes to unnamed temporary
    /// files (not pipes: a background process left in the sandbox must not keep the
    /// test waiting for end-of-file).
    pub fn spawn(self) -> Running {
        let out = tempfile::tempfile().expect("tempfile");
        let err = tempfile::tempfile().expect("tempfile");
        let mut c = self.command();
        c.stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap())
            .process_group(0);
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.display()));
        Running {
            child: Some(child),
            out,
            err,
            start: Instant::now(),
            cmd: self,
        }
    }

    /// Run to completion. A timeout is a test failure.
    pub fn run(self) -> Out {
        self.spawn().wait()
    }
}

/// A started command. Dropping it kills whatever is left of its process group.
pub struct Running {
    child: Option<Child>,
    out: fs::File,
    err: fs::File,
    start: Instant,
    cmd: Cmd,
}

impl Running {
    /// The pid of the started process (also its process group).
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(-1)
    }

    /// SIGKILL the started process only (not its group).
    pub fn kill_leader(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
        }
    }

    /// Whether the started process has exited (without reaping anything else).
    pub fn poll(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(Some(_))))
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn read_file(f: &mut fs::File) -> String {
        let mut s = Vec::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut s).unwrap();
        String::from_utf8_lossy(&s).into_owned()
    }

    /// Wait for the started process; panic (after killing the group) on timeout.
    pub fn wait(mut self) -> Out {
        let mut child = self.child.take().expect("already waited");
        let deadline = self.start + self.cmd.timeout;
        let status = loop {
            match child.try_wait().expect("try_wait") {
                Some(s) => break s,
                None if Instant::now() >= deadline => {
                    kill_group(child.id() as i32);
                    let _ = child.wait();
                    panic!(
                        "timed out after {:?}: {}\n--- stdout:\n{}--- stderr:\n{}",
                        self.cmd.timeout,
                        self.cmd.display(),
                        Self::read_file(&mut self.out),
                        Self::read_file(&mut self.err)
                    );
                }
                None => std::thread::sleep(Duration::from_millis(2)),
            }
        };
        let elapsed = self.start.elapsed();
        // Processes left behind in the sandbox are not the test's business any more.
        kill_group(child.id() as i32);
        Out {
            code: status.code(),
            signal: status.signal(),
            stdout: Self::read_file(&mut self.out),
            stderr: Self::read_file(&mut self.err),
            elapsed,
            cmdline: self.cmd.display(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_group(c.id() as i32);
            let _ = c.wait();
        }
    }
}

fn kill_group(pgid: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// What a command did.
#[derive(Clone)]
pub struct Out {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub cmdline: String,
}

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n$ {}\n--- status: {} ({:?})\n--- stdout:\n{}--- stderr:\n{}---",
            self.cmdline,
            self.status(),
            self.elapsed,
            self.stdout,
            self.stderr
        )
    }
}

impl Out {
    /// The shell-style status: the exit code, or 128 + the signal.
    pub fn status(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            _ => -1,
        }
    }

    /// Assert the exit status.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.status(), expected, "unexpected exit status{self:?}");
        self
    }

    /// Assert success.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.code(0)
    }

    #[track_caller]
    pub fn stdout_is(&self, expected: &str) -> &Self {
        assert_eq!(self.stdout, expected, "unexpected stdout{self:?}");
        self
    }

    #[track_caller]
    pub fn stderr_is(&self, expected: &str) -> &Self {
        assert_eq!(self.stderr, expected, "unexpected stderr{self:?}");
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}{self:?}"
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}{self:?}"
        );
        self
    }

    /// stdout as lines.
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

// ---------------------------------------------------------------------------------------
// Sandbox shapes

#[rustfmt::skip]
/// A minimal root: the new root stays a writable tmpfs, with /usr and /etc bound
/// read-only and the merged-/usr symlinks, so that tests can create anything at the top.
pub const MINIMAL_ROOT: &[&str] = &[
    "--ro-bind", "/usr", "/usr",
    "--symlink", "usr/bin", "/bin",
    "--symlink", "usr/sbin", "/sbin",
    "--symlink", "usr/lib", "/lib",
    "--symlink", "usr/lib64", "/lib64",
    "--ro-bind", "/etc", "/etc",
];

/// hutch with [`MINIMAL_ROOT`].
pub fn minimal(user: User) -> Cmd {
    hutch(user).args(MINIMAL_ROOT)
}

/// hutch with the host's root bound read-only.
pub fn rooted(user: User) -> Cmd {
    hutch(user).args(["--ro-bind", "/", "/"])
}

/// An awk program printing one line per mount: `MOUNTPOINT OPTIONS FSTYPE SUPEROPTIONS`.
pub const MOUNTS: &str =
    r#"awk '{for(i=7;$i!="-";i++); print $5, $6, $(i+1), $(i+3)}' /proc/self/mountinfo"#;

/// One parsed line of [`MOUNTS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub point: String,
    pub opts: Vec<String>,
    pub fstype: String,
    pub super_opts: Vec<String>,
}

impl Mount {
    pub fn has(&self, opt: &str) -> bool {
        self.opts.iter().any(|o| o == opt)
    }
}

pub fn parse_mounts(s: &str) -> Vec<Mount> {
    s.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            if f.len() < 4 {
                return None;
            }
            Some(Mount {
                point: f[0].to_string(),
                opts: f[1].split(',').map(String::from).collect(),
                fstype: f[2].to_string(),
                super_opts: f[3].split(',').map(String::from).collect(),
            })
        })
        .collect()
}

/// The last mount at `point` (the one on top).
#[track_caller]
pub fn mount_at<'a>(mounts: &'a [Mount], point: &str) -> &'a Mount {
    mounts
        .iter()
        .rev()
        .find(|m| m.point == point)
        .unwrap_or_else(|| panic!("no mount at {point} in {mounts:#?}"))
}

// ---------------------------------------------------------------------------------------
// JSON (the flat objects of --info-fd and --json-status-fd)

/// Parse one flat JSON object whose values are integers, keeping the key order.
pub fn parse_flat_json(s: &str) -> Result<Vec<(String, i64)>, String> {
    let s = s.trim();
    let inner = s
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .ok_or_else(|| format!("not an object: {s:?}"))?;
    let mut out = Vec::new();
    if inner.trim().is_empty() {
        return Ok(out);
    }
    for member in inner.split(',') {
        let (k, v) = member
            .split_once(':')
            .ok_or_else(|| format!("bad member {member:?}"))?;
        let k = k.trim();
        let key = k
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .ok_or_else(|| format!("bad key {k:?}"))?;
        let v: i64 = v
            .trim()
            .parse()
            .map_err(|e| format!("bad value {v:?}: {e}"))?;
        out.push((key.to_string(), v));
    }
    Ok(out)
}

pub fn json_keys(obj: &[(String, i64)]) -> Vec<&str> {
    obj.iter().map(|(k, _)| k.as_str()).collect()
}

pub fn json_get(obj: &[(String, i64)], key: &str) -> Option<i64> {
    obj.iter().find(|(k, _)| k == key).map(|(_, v)| *v)
}

// ---------------------------------------------------------------------------------------
// Seccomp: classic BPF assembled by hand (struct sock_filter: u16 code, u8 jt, u8 jf, u32 k)

/// BPF_LD | BPF_W | BPF_ABS
const BPF_LD_W_ABS: u16 = 0x20;
/// BPF_JMP | BPF_JEQ | BPF_K
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const EPERM: u32 = 1;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "x86_64")]
const NR_UNAME: u32 = 63;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;
#[cfg(target_arch = "aarch64")]
const NR_UNAME: u32 = 160;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0..2].copy_from_slice(&code.to_ne_bytes());
    b[2] = jt;
    b[3] = jf;
    b[4..8].copy_from_slice(&k.to_ne_bytes());
    b
}

/// uname(2) fails with EPERM; everything else is allowed (other architectures too).
pub fn bpf_deny_uname() -> Vec<u8> {
    [
        insn(BPF_LD_W_ABS, 0, 0, 4), // A = seccomp_data.arch
        insn(BPF_JMP_JEQ_K, 0, 3, AUDIT_ARCH),
        insn(BPF_LD_W_ABS, 0, 0, 0), // A = seccomp_data.nr
        insn(BPF_JMP_JEQ_K, 0, 1, NR_UNAME),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | EPERM),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    .concat()
}

pub fn bpf_allow_all() -> Vec<u8> {
    insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW).to_vec()
}

// ---------------------------------------------------------------------------------------
// Host hygiene

/// Names that other programs running at the same time may create in /tmp: the test
/// directories of hutch's test suites (`hutch-SUITE-...`, such as `hutch-it-PID` and
/// tests/common/mod.rs's `hutch-test-CRATE-PID`) and the temporary files of Rust
/// builds. The one name hutch itself makes there, slirp4netns's socket directory
/// `hutch-net-XXXXXX` (mkdtemp), is not foreign: a leaked one counts.
fn is_foreign(name: &str) -> bool {
    const SUITES: &[&str] = &[
        "it", "harden", "flatpak", "limits", "net", "bench", "test", "profiles", "join", "faults",
        "load", "fuzz", "escape",
    ];
    if let Some(x) = name.strip_prefix("hutch-net-") {
        if x.len() == 6 && !x.contains('-') {
            return false;
        }
    }
    let suite = name
        .strip_prefix("hutch-")
        .and_then(|r| r.split_once('-'))
        .is_some_and(|(word, _)| SUITES.contains(&word));
    suite || name.starts_with("rustc") || name.starts_with(".tmp")
}

/// The names in a host directory, without those of concurrent test runs and builds.
pub fn listing(dir: &str) -> std::collections::BTreeSet<String> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !is_foreign(n))
                .collect()
        })
        .unwrap_or_default()
}

/// The host's mount points, outside the test runs' own directories.
pub fn host_mounts() -> std::collections::BTreeSet<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(String::from))
        .filter(|p| {
            !p.strip_prefix("/tmp/")
                .is_some_and(|r| is_foreign(r.split('/').next().unwrap_or("")))
        })
        .collect()
}

/// Names that appeared in `dir` since `before` and are still there after a grace
/// period (other processes on the machine may create short-lived files there).
pub fn persistent_new_entries(
    dir: &str,
    before: &std::collections::BTreeSet<String>,
) -> Vec<String> {
    let mut new: Vec<String> = listing(dir).difference(before).cloned().collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !new.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let now = listing(dir);
        new.retain(|n| now.contains(n));
    }
    new
}

/// Of the [`persistent_new_entries`] of `dir`, those hutch could have left: the names
/// hutch makes (anything starting with `hutch` or `.hutch` that is not a test suite's,
/// such as slirp4netns's `hutch-net-XXXXXX`) and the names the test gave hutch
/// (`named`: the last components of the paths in its arguments, which a broken setup
/// could create on the host). Other programs on a shared machine create files in /tmp
/// as the same user meanwhile: those are not hutch's and do not count.
pub fn hutchs_new_entries(
    dir: &str,
    before: &std::collections::BTreeSet<String>,
    named: &[&str],
) -> Vec<String> {
    let named: Vec<&str> = named
        .iter()
        .filter_map(|a| Path::new(a).file_name().and_then(|n| n.to_str()))
        .collect();
    persistent_new_entries(dir, before)
        .into_iter()
        .filter(|n| {
            n.starts_with("hutch") || n.starts_with(".hutch") || named.contains(&n.as_str())
        })
        .collect()
}

/// Is anything at `p` (without following a final symlink)?
pub fn exists_nofollow(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

/// The inode of one of our own namespaces (`/proc/self/ns/NAME`).
pub fn own_ns(name: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(format!("/proc/self/ns/{name}")).unwrap().ino()
}

/// The running kernel's Landlock ABI (0: none): what a test expects of Landlock is
/// derived from it (6.1: 2, 6.12: 6, this machine's 6.18: 7).
pub fn landlock_abi() -> i32 {
    hutch::sys::landlock_abi()
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

/// A tmpfs mounted on the host for the duration of a test.
pub struct HostMount(PathBuf);

impl HostMount {
    pub fn tmpfs(at: &Path) -> HostMount {
        fs::create_dir_all(at).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            at,
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("mode=1777"),
        )
        .expect("mount a tmpfs on the host");
        HostMount(at.to_path_buf())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// The binary under test: `$HUTCH_BIN` if set (CI sets it to the one `cargo install`
/// put in place, see .ci/run), else the one cargo built for these tests.
fn tested_binary() -> PathBuf {
    std::env::var_os("HUTCH_BIN")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_hutch")))
}
