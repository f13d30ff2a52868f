//! pid 1 in the sandbox: hold the lock files and the sync fd, reap every
//! orphan, and leave with the command's status as soon as the command ends.

use std::os::fd::OwnedFd;

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use crate::seccomp::Program;
use crate::spec::Spec;
use crate::sys;

/// Run as init until `command` exits; never returns.
///
/// `status` is where to report the exit status when the monitor cannot wait
/// for us (with `--pidns`).
/// `signal_mask`, with `--forward-signals`: the caller's mask, put back once the
/// forwarded signals are passed on to the command.
pub fn run(
    command: Pid,
    spec: &Spec,
    seccomp: &[Program],
    status: Option<OwnedFd>,
    signal_mask: Option<&nix::sys::signal::SigSet>,
) -> ! {
    let leave = |code: i32| -> ! {
        if let Some(sock) = &status {
            let _ = nix::unistd::write(sock, &code.to_le_bytes());
        }
        sys::exit_now(code)
    };
    let fail = |msg: String| -> ! {
        eprintln!("{}: {msg}", spec.personality.name());
        sys::exit_now(1)
    };
    // Hold nothing the command could reach through /proc/1/fd (runc's CVE-2024-21626
    // class): every inherited descriptor goes, as in bwrap's pid 1, but the sync fd
    // and the status socket.
    let keep: Vec<std::os::fd::RawFd> = spec
        .sync_fd
        .into_iter()
        .chain(status.as_ref().map(std::os::fd::AsRawFd::as_raw_fd))
        .collect();
    sys::close_all_but(&keep);
    // Read locks on the lock files, held for the sandbox's lifetime.
    let mut locks = Vec::new();
    for path in &spec.lock_files {
        let file = std::fs::File::open(path).unwrap_or_else(|e| {
            fail(format!(
                "Unable to open lock file {}: {}",
                path.display(),
                crate::error::strerror(&e)
            ))
        });
        let lock = libc::flock {
            l_type: libc::F_RDLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        if let Err(e) = nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_SETLK(&lock)) {
            fail(format!(
                "Unable to lock file {}: {}",
                path.display(),
                crate::sys::strerror(e as i32)
            ));
        }
        locks.push(file);
    }
    // --forward-signals: what hutch forwards to us goes on to the command. (As pid 1 of
    // a pid namespace we get a signal from outside only with a handler installed.)
    if let Some(mask) = signal_mask {
        sys::forward_signals_to(command.as_raw(), mask, false);
    }
    // pid 1 keeps no capabilities.
    let _ = crate::caps::apply(&Default::default(), false, false);
    for p in seccomp {
        if let Err(e) = p.install() {
            fail(e.to_string());
        }
    }
    let end = |code: i32| -> ! {
        sys::stop_forwarding();
        leave(code)
    };
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == command => end(code),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == command => end(128 + sig as i32),
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => leave(1),
        }
    }
}
