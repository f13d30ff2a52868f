//! Landlock-only mode's metadata supervisor. Landlock has no right for metadata:
//! without it, the command could chmod, chown, touch or setxattr the caller's own
//! files beneath read-only rules. A seccomp filter installed in the command just
//! before exec (after no_new_privs) sends those calls to the monitor
//! (SECCOMP_FILTER_FLAG_NEW_LISTENER; the listener fd goes to the monitor over a
//! socket pair, SCM_RIGHTS). A thread of the monitor, with the command's
//! credentials (same uid and gids, no namespace; its capabilities cut to the
//! command's), answers each call:
//!
//! 1. reads the path (and xattr name and value, times) from the caller's memory
//!    (`process_vm_readv`), then checks SECCOMP_IOCTL_NOTIF_ID_VALID;
//! 2. opens the target itself with O_PATH, relative to the caller's cwd or dirfd
//!    through /proc/PID/cwd and /proc/PID/fd/N (O_NOFOLLOW for the `l*` calls and
//!    AT_SYMLINK_NOFOLLOW; AT_EMPTY_PATH and the `f*` calls: /proc/PID/fd/N);
//! 3. reads the opened file's real path (/proc/self/fd/M) and refuses (EPERM) unless
//!    a Landlock rule above it grants writing files;
//! 4. performs the call itself on that fd and returns its result or errno.
//!
//! Never SECCOMP_USER_NOTIF_FLAG_CONTINUE: the path could change between the check
//! and the kernel's own lookup; the operation is done on what was checked.
//! `--landlock-only-metadata allow` turns the supervisor off.
//!
//! The filter kills a foreign architecture (i386 calls on x86_64: their numbers
//! differ), as the default policy does, and gives x32 calls ENOSYS. The calls
//! setxattrat, removexattrat (6.13) and file_setattr (6.17), which no C library
//! uses yet, get ENOSYS.
//!
//! The machinery (`install_program`: the listener sent to the monitor; `receive`;
//! `serve_calls`; `read_bytes`) also serves the connection watch of
//! `--allow-host`/`--allow-net` (src/stage/allow.rs), which has a filter of its own.

use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;

use crate::error::{Error, Result};
use crate::landlock::Access;

/// The metadata calls `(name, x86_64, aarch64)`, `None` where the architecture has
/// no such call (aarch64 has only the `*at` forms and the fd forms), as in
/// src/stage/seccomp_policy.rs's table.
#[rustfmt::skip]
pub const CALLS: &[(&str, Option<i64>, Option<i64>)] = &[
    ("chmod", Some(90), None),
    ("fchmod", Some(91), Some(52)),
    ("fchmodat", Some(268), Some(53)),
    ("fchmodat2", Some(452), Some(452)),
    ("chown", Some(92), None),
    ("fchown", Some(93), Some(55)),
    ("lchown", Some(94), None),
    ("fchownat", Some(260), Some(54)),
    ("utime", Some(132), None),
    ("utimes", Some(235), None),
    ("futimesat", Some(261), None),
    ("utimensat", Some(280), Some(88)),
    ("setxattr", Some(188), Some(5)),
    ("lsetxattr", Some(189), Some(6)),
    ("fsetxattr", Some(190), Some(7)),
    ("removexattr", Some(197), Some(14)),
    ("lremovexattr", Some(198), Some(15)),
    ("fremovexattr", Some(199), Some(16)),
];

/// Newer metadata calls the supervisor does not handle: ENOSYS.
#[rustfmt::skip]
pub const NOSYS: &[(&str, i64)] = &[("setxattrat", 463), ("removexattrat", 466), ("file_setattr", 469)];

/// The running architecture: 0 x86_64, 1 aarch64 (the column of the call tables).
#[cfg(target_arch = "x86_64")]
pub const NATIVE: usize = 0;
#[cfg(target_arch = "aarch64")]
pub const NATIVE: usize = 1;
/// Its AUDIT_ARCH_* value, as `seccomp_data.arch` says it.
#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH: u32 = 0xc000_00b7;
// Elsewhere there is no supervisor (see `available`).
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub const NATIVE: usize = 0;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub const AUDIT_ARCH: u32 = 0;

/// The call's name on the running architecture.
fn name_of(nr: i32) -> Option<&'static str> {
    CALLS.iter().find_map(|(name, x, a)| {
        let n = if NATIVE == 0 { *x } else { *a };
        (n == Some(i64::from(nr))).then_some(*name)
    })
}

/// Whether the kernel has seccomp user notification (Linux 5.0).
pub fn available() -> bool {
    cfg!(any(target_arch = "x86_64", target_arch = "aarch64"))
        && crate::sys::seccomp_notif_sizes().is_some()
}

// The classic BPF the filters here and in allow.rs use: load a word of `struct
// seccomp_data`, compare it, return.
pub const LD_W_ABS: u16 = 0x20;
pub const JEQ_K: u16 = 0x15;
pub const RET_K: u16 = 0x06;
pub const ALLOW: u32 = 0x7fff_0000;
pub const NOTIFY: u32 = libc::SECCOMP_RET_USER_NOTIF;

/// One classic BPF instruction (`struct sock_filter`).
pub fn ins(code: u16, jt: u8, jf: u8, k: u32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..2].copy_from_slice(&code.to_ne_bytes());
    b[2] = jt;
    b[3] = jf;
    b[4..].copy_from_slice(&k.to_ne_bytes());
    b
}

/// The filter: the metadata calls to the listener, the rest allowed.
pub fn filter() -> Vec<u8> {
    const JGE_K: u16 = 0x35;
    const KILL_PROCESS: u32 = 0x8000_0000;
    const ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;
    let mut p = vec![
        ins(LD_W_ABS, 0, 0, 4),
        ins(JEQ_K, 1, 0, AUDIT_ARCH),
        ins(RET_K, 0, 0, KILL_PROCESS),
        ins(LD_W_ABS, 0, 0, 0),
    ];
    if NATIVE == 0 {
        p.push(ins(JGE_K, 0, 1, 0x4000_0000));
        p.push(ins(RET_K, 0, 0, ENOSYS));
    }
    for (_, x, a) in CALLS {
        if let Some(n) = if NATIVE == 0 { *x } else { *a } {
            p.push(ins(JEQ_K, 0, 1, n as u32));
            p.push(ins(RET_K, 0, 0, NOTIFY));
        }
    }
    for (_, n) in NOSYS {
        p.push(ins(JEQ_K, 0, 1, *n as u32));
        p.push(ins(RET_K, 0, 0, ENOSYS));
    }
    p.push(ins(RET_K, 0, 0, ALLOW));
    p.concat()
}

/// In the command, shortly before exec: install the filter and send its listener to
/// the monitor: `supervised`. EBUSY: an enclosing Landlock-only hutch's supervisor
/// already watches (one listener per filter chain); its rules still hold, ours
/// are not added: `enclosing`.
pub fn install(sock: RawFd) -> Result<&'static str> {
    match install_program(sock, &filter()) {
        Ok(true) => Ok("supervised"),
        Ok(false) => Ok("enclosing"),
        Err(e) => Err(e),
    }
}

/// Install `program` (SECCOMP_FILTER_FLAG_NEW_LISTENER) and send its listener to the
/// monitor over `sock` (SCM_RIGHTS): `true`. `false` on EBUSY, nothing installed: a
/// filter above already has a listener (one per filter chain). Shared with the
/// connection watch of `--allow-host` (src/stage/allow.rs). Once the filter is in,
/// its calls fail with ENOSYS unless the listener reaches the monitor: a failure to
/// send it is an error.
pub fn install_program(sock: RawFd, program: &[u8]) -> Result<bool> {
    let listener = match crate::sys::seccomp_install_listener(program) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => return Ok(false),
        Err(e) => return Err(Error::io("seccomp(SECCOMP_FILTER_FLAG_NEW_LISTENER)", e)),
    };
    crate::sys::send_fd(sock, b"L", Some(listener.as_raw_fd()))
        .map_err(|e| Error::io("sending the seccomp listener", e))?;
    Ok(true)
}

/// In the monitor: the listener, once the command has sent it (`None` if the
/// setup failed before, or an enclosing supervisor watches).
pub fn receive(sock: &OwnedFd) -> Option<OwnedFd> {
    crate::sys::recv_fd(sock.as_raw_fd(), &mut [0u8; 1]).ok()?.1
}

/// What the supervisor allows: the Landlock path rules (real paths), and the
/// command's capabilities.
#[derive(Debug, Clone)]
pub struct Rules {
    pub rules: Vec<(PathBuf, Access)>,
    pub caps: u64,
}

impl Rules {
    /// Whether Landlock lets the command write `path` (a real path): some rule on
    /// it or above it grants writing files.
    pub fn writable(&self, path: &Path) -> bool {
        self.rules
            .iter()
            .filter(|(p, _)| path.starts_with(p))
            .any(|(_, a)| a.contains(::landlock::AccessFs::WriteFile))
    }
}

/// The rules as Landlock was given them, with their paths resolved as Landlock
/// resolves them (a rule on a symlink is a rule on its target).
pub fn rules(spec: &crate::spec::Spec, caps: u64) -> Rules {
    let list: Vec<(PathBuf, Access)> = match &spec.landlock.fs {
        crate::spec::LandlockFs::Off => Vec::new(),
        crate::spec::LandlockFs::Derived => crate::landlock::derive_host(&spec.ops),
        crate::spec::LandlockFs::Explicit(list) => list
            .iter()
            .map(|(p, a)| (p.clone(), crate::landlock::explicit_access(*a)))
            .collect(),
    };
    Rules {
        rules: list
            .into_iter()
            .filter_map(|(p, a)| std::fs::canonicalize(&p).ok().map(|p| (p, a)))
            .collect(),
        caps,
    }
}

/// Start the supervisor thread on `listener`.
pub fn spawn(listener: OwnedFd, rules: Rules) {
    let _ = std::thread::Builder::new()
        .name("hutch-meta".into())
        .spawn(move || serve(listener, rules));
}

fn serve(listener: OwnedFd, rules: Rules) {
    // This thread acts for the command: no capability the command lacks.
    let ok = crate::sys::capset(rules.caps, rules.caps, 0).is_ok();
    serve_calls(&listener, |n, listener| {
        let result = if ok {
            handle(n, listener, &rules)
        } else {
            Err(libc::EPERM)
        };
        match result {
            Ok(()) => Answer::Value(0),
            Err(errno) => Answer::Errno(errno),
        }
    })
}

/// What a notified call gets.
pub enum Answer {
    /// It returns this value (done by the supervisor).
    Value(i64),
    /// It fails with this errno.
    Errno(Errno),
    /// The kernel performs it (SECCOMP_USER_NOTIF_FLAG_CONTINUE, Linux 5.5): only
    /// where nothing depends on what was checked (see src/stage/allow.rs).
    Continue,
}

/// Answer every call notified on `listener` with `answer`, until the listener fails.
/// Shared with the connection watch of `--allow-host` (src/stage/allow.rs).
pub fn serve_calls(
    listener: &OwnedFd,
    mut answer: impl FnMut(&crate::sys::SeccompNotif, BorrowedFd<'_>) -> Answer,
) {
    let size = crate::sys::seccomp_notif_sizes().map_or(80, |s| s.0);
    loop {
        let n = match crate::sys::seccomp_notif_recv(listener.as_fd(), size) {
            Ok(n) => n,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::ENOENT)) => continue,
            Err(_) => return,
        };
        let l = listener.as_fd();
        // A failed answer: the caller is gone, or was interrupted (it calls again).
        let _ = match answer(&n, l) {
            Answer::Value(v) => crate::sys::seccomp_notif_send(l, n.id, v, 0),
            Answer::Errno(errno) => crate::sys::seccomp_notif_send(l, n.id, -1, errno),
            Answer::Continue => crate::sys::seccomp_notif_continue(l, n.id),
        };
    }
}

pub type Errno = i32;

fn errno(e: impl Into<std::io::Error>) -> Errno {
    e.into().raw_os_error().unwrap_or(libc::EPERM)
}

/// Where the call points: a path relative to a dirfd (AT_FDCWD: the cwd), or an fd.
enum Target {
    Path {
        dirfd: i32,
        path: CString,
        nofollow: bool,
        empty_ok: bool,
    },
    Fd(i32),
}

enum Action {
    Chmod(u32),
    Chown(u32, u32),
    Times(Option<[libc::timespec; 2]>),
    SetXattr(CString, Vec<u8>, i32),
    RemoveXattr(CString),
}

const AT_SYMLINK_NOFOLLOW: u64 = libc::AT_SYMLINK_NOFOLLOW as u64;
const AT_EMPTY_PATH: u64 = libc::AT_EMPTY_PATH as u64;

/// Read a NUL-terminated string of at most `max` bytes from the caller.
fn read_str(
    pid: i32,
    addr: u64,
    max: usize,
    too_long: Errno,
) -> std::result::Result<CString, Errno> {
    if addr == 0 {
        return Err(libc::EFAULT);
    }
    let mut out = Vec::new();
    let mut at = addr;
    while out.len() <= max {
        // Up to the end of the page: the next one may be unmapped.
        let chunk = (4096 - (at % 4096)) as usize;
        let mut buf = vec![0u8; chunk];
        let n = crate::sys::read_process(pid, at, &mut buf).map_err(read_err)?;
        if n == 0 {
            return Err(libc::EFAULT);
        }
        if let Some(end) = buf[..n].iter().position(|b| *b == 0) {
            out.extend_from_slice(&buf[..end]);
            return if out.len() > max {
                Err(too_long)
            } else {
                Ok(CString::new(out).expect("no NUL"))
            };
        }
        out.extend_from_slice(&buf[..n]);
        at += n as u64;
    }
    Err(too_long)
}

/// `len` bytes of the caller's memory at `addr`.
pub fn read_bytes(pid: i32, addr: u64, len: usize) -> std::result::Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; len];
    if len == 0 {
        return Ok(buf);
    }
    match crate::sys::read_process(pid, addr, &mut buf) {
        Ok(n) if n == len => Ok(buf),
        Ok(_) => Err(libc::EFAULT),
        Err(e) => Err(read_err(e)),
    }
}

/// A bad address is the caller's EFAULT; anything else (no ptrace access to the
/// caller: Yama) refuses the call.
fn read_err(e: std::io::Error) -> Errno {
    match e.raw_os_error() {
        Some(libc::EFAULT) => libc::EFAULT,
        _ => libc::EPERM,
    }
}

fn read_i64s<const N: usize>(pid: i32, addr: u64) -> std::result::Result<[i64; N], Errno> {
    let b = read_bytes(pid, addr, N * 8)?;
    let mut out = [0i64; N];
    for (i, v) in out.iter_mut().enumerate() {
        *v = i64::from_ne_bytes(b[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
    }
    Ok(out)
}

fn ts(sec: i64, nsec: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec as _,
    }
}

/// `struct timeval[2]` (utimes, futimesat) as timespecs; NULL: now.
fn timevals(pid: i32, addr: u64) -> std::result::Result<Option<[libc::timespec; 2]>, Errno> {
    if addr == 0 {
        return Ok(None);
    }
    let [s0, u0, s1, u1] = read_i64s::<4>(pid, addr)?;
    if !(0..1_000_000).contains(&u0) || !(0..1_000_000).contains(&u1) {
        return Err(libc::EINVAL);
    }
    Ok(Some([ts(s0, u0 * 1000), ts(s1, u1 * 1000)]))
}

fn flags(given: u64, allowed: u64) -> std::result::Result<u64, Errno> {
    if given & !allowed != 0 {
        Err(libc::EINVAL)
    } else {
        Ok(given)
    }
}

/// The call, read from the caller's memory.
fn decode(n: &crate::sys::SeccompNotif) -> std::result::Result<(Target, Action), Errno> {
    let pid = n.pid as i32;
    let a = n.args;
    let path = |addr: u64| read_str(pid, addr, libc::PATH_MAX as usize - 1, libc::ENAMETOOLONG);
    let xname = |addr: u64| read_str(pid, addr, 255, libc::ERANGE);
    let at = |dirfd: u64, addr: u64, fl: u64| -> std::result::Result<Target, Errno> {
        Ok(Target::Path {
            dirfd: dirfd as i32,
            path: path(addr)?,
            nofollow: fl & AT_SYMLINK_NOFOLLOW != 0,
            empty_ok: fl & AT_EMPTY_PATH != 0,
        })
    };
    let cwd = |addr: u64, nofollow: bool| {
        at(
            libc::AT_FDCWD as u32 as u64,
            addr,
            if nofollow { AT_SYMLINK_NOFOLLOW } else { 0 },
        )
    };
    let value = |addr: u64, size: u64| {
        if size > 65536 {
            Err(libc::E2BIG)
        } else {
            read_bytes(pid, addr, size as usize)
        }
    };
    let name = name_of(n.nr).ok_or(libc::ENOSYS)?;
    let both = AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH;
    Ok(match name {
        "chmod" => (cwd(a[0], false)?, Action::Chmod(a[1] as u32)),
        "fchmod" => (Target::Fd(a[0] as i32), Action::Chmod(a[1] as u32)),
        "fchmodat" => (at(a[0], a[1], 0)?, Action::Chmod(a[2] as u32)),
        "fchmodat2" => (
            at(a[0], a[1], flags(a[3], both)?)?,
            Action::Chmod(a[2] as u32),
        ),
        "chown" | "lchown" => (
            cwd(a[0], name == "lchown")?,
            Action::Chown(a[1] as u32, a[2] as u32),
        ),
        "fchown" => (
            Target::Fd(a[0] as i32),
            Action::Chown(a[1] as u32, a[2] as u32),
        ),
        "fchownat" => (
            at(a[0], a[1], flags(a[4], both)?)?,
            Action::Chown(a[2] as u32, a[3] as u32),
        ),
        "utime" => {
            let times = if a[1] == 0 {
                None
            } else {
                let [at_, mt] = read_i64s::<2>(pid, a[1])?;
                Some([ts(at_, 0), ts(mt, 0)])
            };
            (cwd(a[0], false)?, Action::Times(times))
        }
        "utimes" => (cwd(a[0], false)?, Action::Times(timevals(pid, a[1])?)),
        "futimesat" => (at(a[0], a[1], 0)?, Action::Times(timevals(pid, a[2])?)),
        "utimensat" => {
            let fl = flags(a[3], both)?;
            let times = if a[2] == 0 {
                None
            } else {
                let [s0, n0, s1, n1] = read_i64s::<4>(pid, a[2])?;
                Some([ts(s0, n0), ts(s1, n1)])
            };
            // A NULL path is futimens(): the fd itself.
            let target = if a[1] == 0 {
                Target::Fd(a[0] as i32)
            } else {
                at(a[0], a[1], fl)?
            };
            (target, Action::Times(times))
        }
        "setxattr" | "lsetxattr" | "fsetxattr" => {
            let target = match name {
                "fsetxattr" => Target::Fd(a[0] as i32),
                _ => cwd(a[0], name == "lsetxattr")?,
            };
            let fl = flags(a[4], (libc::XATTR_CREATE | libc::XATTR_REPLACE) as u64)?;
            (
                target,
                Action::SetXattr(xname(a[1])?, value(a[2], a[3])?, fl as i32),
            )
        }
        "removexattr" | "lremovexattr" | "fremovexattr" => {
            let target = match name {
                "fremovexattr" => Target::Fd(a[0] as i32),
                _ => cwd(a[0], name == "lremovexattr")?,
            };
            (target, Action::RemoveXattr(xname(a[1])?))
        }
        _ => return Err(libc::ENOSYS),
    })
}

fn open_path(path: &str, flags: OFlag) -> std::result::Result<OwnedFd, Errno> {
    nix::fcntl::open(
        path,
        flags | OFlag::O_PATH | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno)
}

/// The caller's fd `fd` (or cwd for AT_FDCWD), opened by us.
fn their_fd(pid: i32, fd: i32) -> std::result::Result<OwnedFd, Errno> {
    if fd == libc::AT_FDCWD {
        return open_path(&format!("/proc/{pid}/cwd"), OFlag::empty());
    }
    if fd < 0 {
        return Err(libc::EBADF);
    }
    open_path(&format!("/proc/{pid}/fd/{fd}"), OFlag::empty()).map_err(|e| {
        if e == libc::ENOENT {
            libc::EBADF
        } else {
            e
        }
    })
}

/// `path` with the caller's /proc/self, /proc/thread-self and /dev/fd/ (ours if
/// left as they are) spelled with its pid. Other links to them stay ours: the path
/// check still holds, only such a call fails or changes a file beneath a write rule.
fn their_proc(pid: i32, path: &CString) -> CString {
    let b = path.as_bytes();
    for (prefix, with) in [
        (&b"/proc/self"[..], format!("/proc/{pid}")),
        (b"/proc/thread-self", format!("/proc/{pid}")),
        (b"/dev/fd", format!("/proc/{pid}/fd")),
    ] {
        if let Some(rest) = b.strip_prefix(prefix) {
            if rest.is_empty() || rest[0] == b'/' {
                let mut out = with.into_bytes();
                out.extend_from_slice(rest);
                return CString::new(out).expect("no NUL");
            }
        }
    }
    path.clone()
}

/// Open what the call points at, as the caller would find it.
fn open_target(pid: i32, target: &Target) -> std::result::Result<OwnedFd, Errno> {
    match target {
        Target::Fd(fd) => their_fd(pid, *fd),
        Target::Path {
            dirfd,
            path,
            nofollow,
            empty_ok,
        } => {
            if path.as_bytes().is_empty() {
                return if *empty_ok {
                    their_fd(pid, *dirfd)
                } else {
                    Err(libc::ENOENT)
                };
            }
            let mut fl = OFlag::O_PATH | OFlag::O_CLOEXEC;
            if *nofollow {
                fl |= OFlag::O_NOFOLLOW;
            }
            // An absolute path resolves from the caller's root: the same as ours
            // (no mount namespace, and no chroot without CAP_SYS_CHROOT), except for
            // the caller's own /proc entries (glibc's fchmodat(AT_SYMLINK_NOFOLLOW)
            // before Linux 6.6 goes through /proc/self/fd/N).
            if path.as_bytes()[0] == b'/' {
                let path = their_proc(pid, path);
                return nix::fcntl::open(path.as_c_str(), fl, Mode::empty()).map_err(errno);
            }
            let base = their_fd(pid, *dirfd)?;
            nix::fcntl::openat(&base, path.as_c_str(), fl, Mode::empty()).map_err(errno)
        }
    }
}

/// The real path of our fd.
fn real_path(fd: BorrowedFd<'_>) -> Option<PathBuf> {
    let link = nix::fcntl::readlink(format!("/proc/self/fd/{}", fd.as_raw_fd()).as_str()).ok()?;
    let mut bytes = link.into_vec();
    if let Some(stripped) = bytes.strip_suffix(b" (deleted)") {
        bytes = stripped.to_vec();
    }
    let p = PathBuf::from(OsString::from_vec(bytes));
    p.is_absolute().then_some(p)
}

fn handle(
    n: &crate::sys::SeccompNotif,
    listener: BorrowedFd<'_>,
    rules: &Rules,
) -> std::result::Result<(), Errno> {
    let pid = n.pid as i32;
    let (target, action) = decode(n)?;
    let fd = open_target(pid, &target)?;
    // What was read and opened is the caller's (its pid was not reused meanwhile).
    if !crate::sys::seccomp_notif_id_valid(listener, n.id) {
        return Err(libc::ENOENT);
    }
    let path = real_path(fd.as_fd()).ok_or(libc::EPERM)?;
    if !rules.writable(&path) {
        return Err(libc::EPERM);
    }
    let is_link = nix::sys::stat::fstat(&fd)
        .map(|st| st.st_mode & libc::S_IFMT == libc::S_IFLNK)
        .map_err(errno)?;
    let proc_path = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).expect("no NUL");
    let empty = c"";
    match action {
        Action::Chmod(mode) => {
            if is_link {
                return Err(libc::EOPNOTSUPP);
            }
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                Path::new(proc_path.to_str().expect("ascii")),
                std::fs::Permissions::from_mode(mode & 0o7777),
            )
            .map_err(errno)
        }
        Action::Chown(uid, gid) => {
            let id = |v: u32| (v != u32::MAX).then_some(v);
            nix::unistd::fchownat(
                &fd,
                empty,
                id(uid).map(nix::unistd::Uid::from_raw),
                id(gid).map(nix::unistd::Gid::from_raw),
                AtFlags::AT_EMPTY_PATH | AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(errno)
        }
        Action::Times(times) => if is_link {
            crate::sys::utimensat(
                fd.as_raw_fd(),
                empty,
                times.as_ref(),
                libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
            )
        } else {
            crate::sys::utimensat(libc::AT_FDCWD, &proc_path, times.as_ref(), 0)
        }
        .map_err(errno),
        Action::SetXattr(name, value, fl) => {
            if is_link {
                return Err(libc::EPERM);
            }
            crate::sys::setxattr(&proc_path, &name, &value, fl).map_err(errno)
        }
        Action::RemoveXattr(name) => {
            if is_link {
                return Err(libc::EPERM);
            }
            crate::sys::removexattr(&proc_path, &name).map_err(errno)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_libc_on_the_host() {
        #[cfg(target_arch = "x86_64")]
        let host = [
            ("chmod", libc::SYS_chmod),
            ("lchown", libc::SYS_lchown),
            ("utime", libc::SYS_utime),
            ("futimesat", libc::SYS_futimesat),
            ("lremovexattr", libc::SYS_lremovexattr),
        ];
        #[cfg(target_arch = "aarch64")]
        let host = [("fchmodat", libc::SYS_fchmodat)];
        let both = [
            ("fchmod", libc::SYS_fchmod),
            ("fchmodat", libc::SYS_fchmodat),
            ("fchown", libc::SYS_fchown),
            ("fchownat", libc::SYS_fchownat),
            ("utimensat", libc::SYS_utimensat),
            ("setxattr", libc::SYS_setxattr),
            ("lsetxattr", libc::SYS_lsetxattr),
            ("fsetxattr", libc::SYS_fsetxattr),
            ("removexattr", libc::SYS_removexattr),
            ("fremovexattr", libc::SYS_fremovexattr),
        ];
        for (name, n) in host.iter().chain(both.iter()) {
            let row = CALLS.iter().find(|c| c.0 == *name).unwrap();
            let ours = if NATIVE == 0 { row.1 } else { row.2 };
            assert_eq!(ours, Some(*n), "{name}");
            assert_eq!(name_of(*n as i32), Some(*name));
        }
    }

    /// The aarch64 column against seccompiler's table (names it knows).
    #[test]
    fn numbers_match_seccompiler() {
        for (arch, col) in [
            (seccompiler::TargetArch::x86_64, 0),
            (seccompiler::TargetArch::aarch64, 1),
        ] {
            for (name, x, a) in CALLS {
                let json = format!(
                    r#"{{"t": {{"mismatch_action": "allow", "match_action": "kill_process",
                        "filter": [{{"syscall": "{name}"}}]}}}}"#
                );
                let compiled = seccompiler::compile_from_json(json.as_bytes(), arch);
                let ours = if col == 0 { *x } else { *a };
                match ours {
                    Some(n) => {
                        let prog = &compiled.unwrap()["t"];
                        // The number appears in the program's comparisons.
                        assert!(
                            prog.iter().any(|i| i.code == 0x15 && i.k == n as u32),
                            "{name} = {n} on {arch:?}"
                        );
                    }
                    None => assert!(compiled.is_err(), "{name} exists on {arch:?}"),
                }
            }
        }
    }

    #[test]
    fn the_callers_proc_self() {
        let c = |s: &str| CString::new(s).unwrap();
        assert_eq!(their_proc(42, &c("/proc/self/fd/3")), c("/proc/42/fd/3"));
        assert_eq!(their_proc(42, &c("/proc/thread-self")), c("/proc/42"));
        assert_eq!(their_proc(42, &c("/dev/fd/0")), c("/proc/42/fd/0"));
        assert_eq!(their_proc(42, &c("/proc/selfish")), c("/proc/selfish"));
        assert_eq!(their_proc(42, &c("/tmp/x")), c("/tmp/x"));
    }

    #[test]
    fn write_rules_cover_their_subtrees() {
        let rules = Rules {
            rules: vec![
                ("/".into(), crate::landlock::read_exec()),
                ("/w".into(), ::landlock::AccessFs::WriteFile.into()),
            ],
            caps: 0,
        };
        assert!(rules.writable(Path::new("/w")));
        assert!(rules.writable(Path::new("/w/x/y")));
        assert!(!rules.writable(Path::new("/wx")));
        assert!(!rules.writable(Path::new("/d/f")));
    }

    #[test]
    fn filter_is_whole_instructions() {
        assert_eq!(filter().len() % 8, 0);
        crate::seccomp::Program::from_bytes(filter()).unwrap();
    }
}
