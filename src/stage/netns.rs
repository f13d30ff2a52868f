//! `--unshare-net` made beside the sandbox's setup instead of by its clone.
//!
//! A network namespace is by far the slowest namespace to make: the kernel
//! registers sysctl tables and devices for every protocol, ~0.7 ms on a
//! machine where the whole of `unshare -Ur true` takes 1.4 ms. Made by the
//! child's `clone`, it delays everything after it. So, when nothing needs the
//! namespace early, `clone` makes the other namespaces, and a helper forked by
//! the monitor makes the network one on another CPU while the child builds the
//! root:
//!
//! 1. the helper enters the child's new user namespace (it has every
//!    capability there: it runs in the parent namespace as the namespace's owner),
//! 2. unshares a network namespace, which that user namespace then owns, exactly
//!    as one made by the child's clone,
//! 3. brings its loopback up, and
//! 4. sends it to the child over a socket, and exits.
//!
//! The child enters the namespace (`enter`) before anything can use it: before a
//! bind whose source is in `/proc` (where `/proc/self/net` shows the reader's
//! namespace), before it changes user namespace, drops capabilities, forks pid 1
//! or execs. If the helper fails in any way, the socket reaches end-of-file and
//! the child makes the namespace itself: errors are then the child's own, with
//! the same wording as before.
//!
//! Not used where the namespace must exist when `clone` returns: the namespace
//! ids that `--info-fd` and `--json-status-fd` report, `--net user` (the helper
//! joins the child's namespaces at once), a joined user or pid namespace, or no
//! new user namespace at all.

use crate::error::{Context, Result};
use crate::fault::{self, Step};
use crate::sys;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// The two ends of the socket on which the namespace travels, made before `clone`.
pub struct Beside {
    child: OwnedFd,
    helper: OwnedFd,
}

impl Beside {
    pub fn new() -> Result<Beside> {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let (child, helper) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ctx(|| "socketpair".into())?;
        Ok(Beside { child, helper })
    }

    /// In the monitor, once the child exists: fork the helper; keep neither end.
    /// The helper's pid, to reap; `None` if it could not be forked (the child
    /// then makes the namespace itself).
    pub fn spawn(self, child: libc::pid_t) -> Option<libc::pid_t> {
        drop(self.child);
        match sys::fork() {
            Ok(0) => {
                let code = match make(child, &self.helper) {
                    Ok(()) => 0,
                    Err(_) => 1,
                };
                sys::exit_now(code)
            }
            Ok(pid) => Some(pid),
            Err(_) => None,
        }
    }

    /// In the child: the end it receives on.
    pub fn into_child_end(self) -> OwnedFd {
        drop(self.helper);
        self.child
    }
}

/// The helper's work; any error means "let the child do it".
fn make(child: libc::pid_t, sock: &OwnedFd) -> Result<()> {
    use nix::sched::{setns, unshare, CloneFlags};
    fault::hit(Step::NetBeside)?;
    let userns = nix::fcntl::open(
        Path::new(&format!("/proc/{child}/ns/user")),
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| "open userns".into())?;
    setns(&userns, CloneFlags::CLONE_NEWUSER).ctx(|| "setns".into())?;
    unshare(CloneFlags::CLONE_NEWNET).ctx(|| "unshare".into())?;
    fault::hit(Step::Loopback)?;
    sys::loopback_up().ctx(|| "loopback".into())?;
    let net = nix::fcntl::open(
        "/proc/self/ns/net",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| "open netns".into())?;
    sys::send_fd(sock.as_raw_fd(), b"n", Some(net.as_raw_fd())).ctx(|| "sendmsg".into())?;
    Ok(())
}

/// In the child: enter the namespace the helper made, or make one (with its
/// loopback up) if the helper sent none.
pub fn enter(sock: OwnedFd) -> Result<()> {
    use nix::sched::{setns, unshare, CloneFlags};
    if let Some(net) = receive(&sock) {
        if setns(&net, CloneFlags::CLONE_NEWNET).is_ok() {
            return Ok(());
        }
    }
    unshare(CloneFlags::CLONE_NEWNET).map_err(|e| {
        crate::diagnose::clone_failed(e.into(), false, &crate::diagnose::Host::real())
    })?;
    fault::hit(Step::Loopback)?;
    sys::loopback_up().ctx(|| "Failed to bring up loopback".into())
}

/// The namespace fd, or `None` at end-of-file (the helper failed).
fn receive(sock: &OwnedFd) -> Option<OwnedFd> {
    sys::recv_fd(sock.as_raw_fd(), &mut [0u8; 1]).ok()?.1
}
