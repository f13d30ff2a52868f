//! Running a command with a timeout, and what it did.

use std::fmt;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// What a command did.
pub struct Out {
    /// The exit status, or 128 + the signal that ended it.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// From the start to the exit.
    pub took: Duration,
}

impl fmt::Debug for Out {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit {} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.took, self.stdout, self.stderr
        )
    }
}

impl Out {
    /// Assert success.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, 0, "{self:?}");
        self
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

/// The shell-style status: the exit code, or 128 + the signal.
pub fn status_code(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Spawn, retrying while the binary is "busy": another test thread may be forking
/// while the copy of hutch is still open for writing in it.
pub fn spawn(c: &mut Command) -> Child {
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

/// Wait for `child` for up to `limit`; `None`: it was still running, and has been
/// killed (SIGKILL) and reaped.
pub fn wait_status(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
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

/// Wait for `child` (a timeout is a test failure), then read what is left of its piped
/// stdout and stderr.
pub fn wait(mut child: Child, limit: Duration) -> Out {
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
        stdout,
        stderr,
        took,
    }
}

/// Run `cmd` to completion (a timeout is a test failure). Its output goes to files,
/// not pipes: a process it leaves behind (on purpose, or by a bug) must not keep the
/// test waiting for end-of-file.
pub fn output(cmd: &mut Command, limit: Duration) -> Out {
    let mut out = tempfile::tempfile().expect("tempfile");
    let mut err = tempfile::tempfile().expect("tempfile");
    cmd.stdout(out.try_clone().unwrap())
        .stderr(err.try_clone().unwrap());
    let start = Instant::now();
    let mut child = spawn(cmd);
    let status = wait_status(&mut child, limit);
    let took = start.elapsed();
    // The parent's copies of the files go with `cmd`: drop them now.
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let read = |f: &mut fs::File| {
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
        stdout,
        stderr,
        took,
    }
}
