//! The one way to run a command in a test: [`Cmd`], a builder (args, environment,
//! stdin, descriptors, working directory, umask, timeout, user), run to an [`Out`] or
//! started as a [`Running`].

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::user::User;

/// A command is killed (and the test fails) after this long, unless told otherwise
/// (times [`slow_factor`], as every time limit here).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// How many times longer than usual a command may take here: `HUTCH_TEST_SLOW=N`, set
/// by tests/vm/guest (QEMU's TCG emulates every instruction, and the host running it
/// may be busy too); 1 otherwise.
pub fn slow_factor() -> u32 {
    std::env::var("HUTCH_TEST_SLOW")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1)
}

/// The PATH a command gets unless told otherwise.
pub const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// Quote a string for the shell.
pub fn sq(s: impl AsRef<str>) -> String {
    format!("'{}'", s.as_ref().replace('\'', r"'\''"))
}

/// One command line to run, as a [`User`]: through `setpriv` for nobody and hutchtest,
/// from `/`, with stdin from /dev/null, the test's environment plus a fixed `PATH` and
/// `LC_ALL=C`, in a process group of its own (killed when the command ends), output to
/// files (not pipes: a process left behind must not keep the test waiting), killed
/// after [`DEFAULT_TIMEOUT`] (a test failure; see [`slow_factor`]).
#[derive(Clone)]
pub struct Cmd {
    prog: PathBuf,
    args: Vec<OsString>,
    user: User,
    wrap: Vec<OsString>,
    redirs: Vec<String>,
    umask: Option<u32>,
    cwd: PathBuf,
    envs: Vec<(OsString, Option<OsString>)>,
    env_clear: bool,
    reset_env: bool,
    stdin: Option<Vec<u8>>,
    own_group: bool,
    timeout: Duration,
}

impl Cmd {
    pub fn new(prog: impl AsRef<OsStr>, user: User) -> Cmd {
        Cmd {
            prog: PathBuf::from(prog.as_ref()),
            args: Vec::new(),
            user,
            wrap: Vec::new(),
            redirs: Vec::new(),
            umask: None,
            cwd: PathBuf::from("/"),
            // A fixed PATH and the C locale, so that outputs do not depend on the caller.
            envs: vec![
                ("PATH".into(), Some(PATH.into())),
                ("LC_ALL".into(), Some("C".into())),
            ],
            env_clear: false,
            reset_env: false,
            stdin: None,
            own_group: true,
            timeout: DEFAULT_TIMEOUT * slow_factor(),
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
    /// Run the command through `wrapper` (e.g. `["sh", "-c", "...; exec \"$@\"", "sh"]`),
    /// run as the test's own user, before the switch to the command's user.
    pub fn wrap<I, S>(mut self, wrapper: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.wrap
            .extend(wrapper.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }
    /// A bash redirection applied to the command only (opened by the test's own user),
    /// e.g. `3<file`, `4>file`, `5< <(sleep 1; printf x)`.
    pub fn redir(mut self, r: impl Into<String>) -> Self {
        self.redirs.push(r.into());
        self
    }
    /// Open `path` for reading as descriptor `fd` of the command.
    pub fn fd_in(self, fd: u32, path: &Path) -> Self {
        let r = format!("{fd}<{}", sq(path.display().to_string()));
        self.redir(r)
    }
    /// Open `path` for writing (created, truncated) as descriptor `fd` of the command.
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
    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((k.as_ref().into(), Some(v.as_ref().to_os_string())));
        self
    }
    pub fn envs<I, K, V>(mut self, it: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        for (k, v) in it {
            self = self.env(k, v);
        }
        self
    }
    pub fn env_remove(mut self, k: &str) -> Self {
        self.envs.push((k.into(), None));
        self
    }
    /// Start from an empty environment: only what [`Cmd::env`] sets after this.
    pub fn env_clear(mut self) -> Self {
        self.env_clear = true;
        self.envs.clear();
        self
    }
    /// setpriv's `--reset-env` for nobody and hutchtest (their environment is setpriv's
    /// default for them: HOME, SHELL, USER, LOGNAME, PATH); the test's own for root. What
    /// [`Cmd::env`] sets after this is added to it by env(1), right before the program
    /// (not for a [`Cmd::wrap`]per).
    pub fn reset_env(mut self) -> Self {
        self.reset_env = true;
        self.envs.clear();
        self
    }
    /// Feed `data` to the command's stdin (instead of /dev/null).
    pub fn stdin(mut self, data: impl AsRef<[u8]>) -> Self {
        self.stdin = Some(data.as_ref().to_vec());
        self
    }
    /// Run in the test's process group and leave whatever the command leaves behind
    /// (for tests that look for what is left).
    pub fn in_test_group(mut self) -> Self {
        self.own_group = false;
        self
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t * slow_factor();
        self
    }
    pub fn user(&self) -> User {
        self.user
    }

    /// The argv that is executed: the wrapper, setpriv, the program and its arguments.
    fn argv(&self) -> Vec<OsString> {
        let mut argv: Vec<OsString> = self.wrap.clone();
        let setpriv = self.user.setpriv();
        let switches = !setpriv.is_empty();
        argv.extend(setpriv.into_iter().map(OsString::from));
        if switches && self.reset_env {
            argv.push("--reset-env".into());
        }
        if self.reset_env {
            // What is set after the reset goes in through env(1), for the program only.
            if !self.envs.is_empty() {
                argv.push("env".into());
                // env(1)'s options (-u) come before the assignments.
                for (k, v) in &self.envs {
                    if v.is_none() {
                        argv.extend(["-u".into(), k.clone()]);
                    }
                }
                for (k, v) in &self.envs {
                    if let Some(v) = v {
                        let mut kv = k.clone();
                        kv.push("=");
                        kv.push(v);
                        argv.push(kv);
                    }
                }
            }
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

    /// The [`std::process::Command`] (stdin from /dev/null, or the data given), for a
    /// test that needs pipes or its own handling of the process. [`Cmd::spawn`] and
    /// [`Cmd::run`] are the usual ways.
    pub fn command(&self) -> Command {
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
        if self.env_clear {
            c.env_clear();
        }
        if !self.reset_env {
            for (k, v) in &self.envs {
                match v {
                    Some(v) => c.env(k, v),
                    None => c.env_remove(k),
                };
            }
        }
        match &self.stdin {
            None => c.stdin(Stdio::null()),
            Some(data) => {
                let mut f = tempfile::tempfile().expect("tempfile");
                f.write_all(data).unwrap();
                f.seek(SeekFrom::Start(0)).unwrap();
                c.stdin(f)
            }
        };
        c
    }

    /// Start the command; its output goes to unnamed temporary files.
    pub fn spawn(self) -> Running {
        let out = tempfile::tempfile().expect("tempfile");
        let err = tempfile::tempfile().expect("tempfile");
        let mut c = self.command();
        c.stdout(out.try_clone().unwrap())
            .stderr(err.try_clone().unwrap());
        if self.own_group {
            c.process_group(0);
        }
        let child = spawn_retry(&mut c);
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

/// Spawn, retrying while the binary is "busy": another test thread may be forking
/// while the copy of hutch is still open for writing in it.
pub fn spawn_retry(c: &mut Command) -> Child {
    for _ in 0..100 {
        match c.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            r => return r.unwrap_or_else(|e| panic!("spawn {c:?}: {e}")),
        }
    }
    panic!("{c:?}: text file busy")
}

/// Wait for `child` for up to `limit` (times [`slow_factor`]); `None`: it was still
/// running, and has been killed (SIGKILL) and reaped.
pub fn wait_status(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit * slow_factor();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Run a plain `Command` (one a test had to shape itself: pipes, pre_exec) to
/// completion; a timeout is a test failure. Its output goes to files, not pipes, so
/// that a process it leaves behind cannot keep the test waiting for end-of-file.
pub fn output(cmd: &mut Command, limit: Duration) -> Out {
    use std::io::{Seek, SeekFrom};
    let mut out = tempfile::tempfile().expect("tempfile");
    let mut err = tempfile::tempfile().expect("tempfile");
    cmd.stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap());
    let start = Instant::now();
    let mut child = spawn_retry(cmd);
    let status = wait_status(&mut child, limit);
    let took = start.elapsed();
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let read = |f: &mut std::fs::File| {
        let mut s = Vec::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut s).unwrap();
        String::from_utf8_lossy(&s).into_owned()
    };
    let (stdout, stderr) = (read(&mut out), read(&mut err));
    let Some(status) = status else {
        panic!("{cmd:?}: timed out after {limit:?}\n--- stdout\n{stdout}--- stderr\n{stderr}");
    };
    Out {
        code: status_code(status),
        signal: status.signal(),
        stdout,
        stderr,
        took,
        cmdline: format!("{cmd:?}"),
    }
}

/// Wait for a child started from [`Cmd::command`] with piped stdout and stderr (a test
/// that reads them while it runs); a timeout is a test failure. Then read what is left
/// of its output.
pub fn wait_child(mut child: Child, limit: Duration) -> Out {
    let start = Instant::now();
    let status = wait_status(&mut child, limit);
    let took = start.elapsed();
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut o) = child.stdout.take() {
        o.read_to_string(&mut stdout).unwrap();
    }
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut stderr).unwrap();
    }
    let Some(status) = status else {
        panic!("timed out after {limit:?}\n--- stdout\n{stdout}--- stderr\n{stderr}");
    };
    Out {
        code: status_code(status),
        signal: status.signal(),
        stdout,
        stderr,
        took,
        cmdline: String::new(),
    }
}

/// A started command. Dropping it kills it (and its process group, unless
/// [`Cmd::in_test_group`]).
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

    fn kill(&self, child: &mut Child) {
        if self.cmd.own_group {
            kill_group(child.id() as i32);
        } else {
            let _ = child.kill();
        }
    }

    /// Wait for the started process; panic (after killing it) on timeout.
    pub fn wait(mut self) -> Out {
        let mut child = self.child.take().expect("already waited");
        let deadline = self.start + self.cmd.timeout;
        let status = loop {
            match child.try_wait().expect("try_wait") {
                Some(s) => break s,
                None if Instant::now() >= deadline => {
                    self.kill(&mut child);
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
        let took = self.start.elapsed();
        // Processes left behind in the sandbox are not the test's business any more.
        if self.cmd.own_group {
            kill_group(child.id() as i32);
        }
        Out {
            code: status_code(status),
            signal: status.signal(),
            stdout: Self::read_file(&mut self.out),
            stderr: Self::read_file(&mut self.err),
            took,
            cmdline: self.cmd.display(),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            self.kill(&mut c);
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

/// The shell-style status: the exit code, or 128 + the signal.
pub fn status_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// What a command did.
#[derive(Clone)]
pub struct Out {
    /// The shell-style status: the exit code, or 128 + the signal that ended it.
    pub code: i32,
    /// The signal that ended it.
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// From the start to the exit.
    pub took: Duration,
    pub cmdline: String,
}

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n$ {}\n--- status: {} ({:?})\n--- stdout:\n{}--- stderr:\n{}---",
            self.cmdline, self.code, self.took, self.stdout, self.stderr
        )
    }
}

impl Out {
    /// The shell-style status (the same as [`Out::code`]).
    pub fn status(&self) -> i32 {
        self.code
    }

    /// Assert the exit status.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, expected, "unexpected exit status{self:?}");
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

    /// The `--report` line on stderr.
    #[track_caller]
    pub fn report(&self) -> &str {
        self.stderr
            .lines()
            .find(|l| l.starts_with("{\"namespaces\""))
            .unwrap_or_else(|| panic!("no report in {self:?}"))
    }
}
