//! The thin system layer: the only module allowed to use `unsafe`.
//!
//! Each function wraps one system call that nix does not (yet) offer, returns
//! `io::Result`, and documents the man page it follows. Callers add context.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

fn cstr(p: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `clone(2)` with fork semantics (no new stack): returns 0 in the child and
/// the child's pid in the parent. `flags` are `CLONE_NEW*` flags; SIGCHLD is added.
///
/// The caller must be single-threaded, as with `fork(2)`.
pub fn clone_fork(flags: libc::c_int) -> io::Result<libc::pid_t> {
    // SAFETY: the raw clone syscall with a NULL stack behaves like fork(2): the
    // child continues on a copy of the parent's stack. hutch is single-threaded
    // until exec, so no lock can be held by another thread in the child. The
    // argument order (flags, stack, parent_tid, child_tid, tls) is x86_64's and
    // aarch64's (CONFIG_CLONE_BACKWARDS is not set on either).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    check(ret).map(|pid| pid as libc::pid_t)
}

/// The stack of a child made by [`clone_shared`]: the setup needs far less, and
/// only the pages it touches count.
const SHARED_CHILD_STACK: usize = 2 << 20;

/// `clone(2)` with `CLONE_VM | CLONE_VFORK`, the way `posix_spawn` makes its
/// child: the child runs `f` on a stack of its own but in the caller's memory,
/// while the caller waits in this call until the child has exec'd or exited. No
/// page tables are copied and the child does not fault hutch's pages in again:
/// about 0.1-0.2 ms less per start than [`clone_fork`]. `flags` are `CLONE_NEW*`
/// flags. Returns the child's pid.
///
/// The contract, which the caller must keep (`sandbox::shared_child_ok` says
/// when it can): the caller is single-threaded and does nothing while it waits
/// (so nothing else touches the memory); `f` never returns (it execs or exits);
/// `f` takes, frees and changes nothing the caller owns (its own allocations
/// stay behind, a leak of one start); and `f` needs no setns(2) into a user
/// namespace, which the kernel refuses to a process that shares its memory.
pub fn clone_shared(
    flags: libc::c_int,
    f: &mut dyn FnMut() -> std::convert::Infallible,
) -> io::Result<libc::pid_t> {
    // `f` diverges (it returns an uninhabited type), which rustc sees.
    #[allow(unreachable_code)]
    extern "C" fn start(arg: *mut libc::c_void) -> libc::c_int {
        // SAFETY: `arg` is the `&mut &mut dyn FnMut` below, alive while the caller
        // waits (CLONE_VFORK), and only this child uses it.
        let f = unsafe { &mut *(arg as *mut &mut dyn FnMut() -> std::convert::Infallible) };
        match f() {}
    }
    // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
    let stack = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            SHARED_CHILD_STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if stack == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // A guard page at the bottom: an overflow faults instead of writing below.
    // SAFETY: the lowest page of the mapping made above.
    let guarded = unsafe { libc::mprotect(stack, 4096, libc::PROT_NONE) };
    let mut f = f;
    let pid = if guarded < 0 {
        -1
    } else {
        // SAFETY: the stack is ours and grows down from its end (16-byte aligned:
        // mmap returns page-aligned memory). With CLONE_VFORK this call returns in
        // the caller only once the child has exec'd or exited, so `f` and the
        // stack outlive the child's use of them; the contract above keeps the
        // shared memory consistent.
        unsafe {
            libc::clone(
                start,
                (stack as *mut u8).add(SHARED_CHILD_STACK) as *mut libc::c_void,
                flags | libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                &mut f as *mut &mut dyn FnMut() -> std::convert::Infallible as *mut libc::c_void,
            )
        }
    };
    let err = io::Error::last_os_error();
    // SAFETY: the mapping made above; the child has left it (exec or exit).
    unsafe { libc::munmap(stack, SHARED_CHILD_STACK) };
    if pid < 0 {
        Err(err)
    } else {
        Ok(pid)
    }
}

/// `pivot_root(2)`.
pub fn pivot_root(new_root: &Path, put_old: &Path) -> io::Result<()> {
    let (a, b) = (cstr(new_root)?, cstr(put_old)?);
    // SAFETY: both arguments are valid NUL-terminated strings for the call's duration.
    check(unsafe { libc::syscall(libc::SYS_pivot_root, a.as_ptr(), b.as_ptr()) }).map(drop)
}

pub const OPEN_TREE_CLONE: u32 = 1;
pub const OPEN_TREE_CLOEXEC: u32 = libc::O_CLOEXEC as u32;
pub const AT_RECURSIVE: u32 = 0x8000;
pub const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
pub const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// `open_tree(2)`: with `OPEN_TREE_CLONE` a detached copy of the mount at `path`.
pub fn open_tree(dirfd: RawFd, path: &Path, flags: u32) -> io::Result<OwnedFd> {
    let p = cstr(path)?;
    // SAFETY: `p` outlives the call; the kernel returns a new fd that we own.
    let fd = check(unsafe { libc::syscall(libc::SYS_open_tree, dirfd, p.as_ptr(), flags) })?;
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `move_mount(2)` from one fd to another (both with the EMPTY_PATH flags).
pub fn move_mount_fd(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<()> {
    let empty = c"";
    // SAFETY: both fds are valid for the duration of the call, paths are "".
    check(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            empty.as_ptr(),
            to.as_raw_fd(),
            empty.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    })
    .map(drop)
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(2)` on the mount `fd` refers to (AT_EMPTY_PATH), optionally recursive.
pub fn mount_setattr_fd(fd: BorrowedFd<'_>, set: u64, recursive: bool) -> io::Result<()> {
    mount_setattr_full(fd, set, 0, 0, recursive)
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_IN_ROOT: u64 = 0x10;

/// `openat2(2)`.
pub fn openat2(
    dirfd: BorrowedFd<'_>,
    path: &Path,
    flags: i32,
    mode: u32,
    resolve: u64,
) -> io::Result<OwnedFd> {
    let p = cstr(path)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: mode as u64,
        resolve,
    };
    // SAFETY: `p` and `how` outlive the call; `how` is `struct open_how` (24 bytes).
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd.as_raw_fd(),
            p.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    })?;
    // SAFETY: a new fd returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Whether `fd` is an open file descriptor (`fcntl(F_GETFD)`).
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table; any integer is acceptable.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

/// Open /dev/null on whichever of the standard descriptors 0, 1 and 2 is closed, so
/// that no descriptor hutch opens later can take their place and receive its messages
/// (what Rust's own start-up does, which hutch does not use: see src/main.rs).
pub fn open_standard_fds() {
    for fd in 0..3 {
        if !fd_is_open(fd) {
            // The lowest free number is `fd`, as 0..fd are open. Not close-on-exec:
            // the command inherits it, as it would have inherited `fd`.
            if let Ok(f) = nix::fcntl::open(
                "/dev/null",
                nix::fcntl::OFlag::O_RDWR,
                nix::sys::stat::Mode::empty(),
            ) {
                let _ = std::os::fd::IntoRawFd::into_raw_fd(f);
            }
        }
    }
}

/// Descriptors named on the command line that hutch has consumed, or that were
/// not open when hutch started (so a later descriptor of hutch's own that gets
/// the same number is never mistaken for the user's).
static SPENT_FDS: std::sync::Mutex<Vec<RawFd>> = std::sync::Mutex::new(Vec::new());

/// Record which of the user's descriptors are not open now, before hutch opens any.
pub fn note_closed_fds(fds: impl IntoIterator<Item = RawFd>) {
    let mut spent = SPENT_FDS.lock().unwrap_or_else(|e| e.into_inner());
    spent.extend(fds.into_iter().filter(|fd| !fd_is_open(*fd)));
}

/// Consume a descriptor named on the command line, once: naming the same fd for
/// two ops, or one that was not open, gives EBADF (as bwrap, which closes each).
pub fn take_fd(fd: RawFd) -> io::Result<OwnedFd> {
    let mut spent = SPENT_FDS.lock().unwrap_or_else(|e| e.into_inner());
    if fd < 0 || spent.contains(&fd) || !fd_is_open(fd) {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    spent.push(fd);
    Ok(own_fd(fd))
}

/// Take ownership of an inherited descriptor named on the command line.
///
/// The caller checks with [`fd_is_open`] first and must take each number once.
pub fn own_fd(fd: RawFd) -> OwnedFd {
    // SAFETY: the descriptor was inherited from our caller, named by the user for
    // hutch to consume, and no other owner exists in this single-threaded process.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Send `data` on the unix socket `sock`, with the descriptor `fd` attached
/// (SCM_RIGHTS) if there is one. MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE.
pub fn send_fd(sock: RawFd, data: &[u8], fd: Option<RawFd>) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = fd.map(|f| [f]);
    let cmsgs: Vec<ControlMessage> = fds
        .as_ref()
        .map(|f| ControlMessage::ScmRights(f))
        .into_iter()
        .collect();
    sendmsg::<()>(
        sock,
        &[io::IoSlice::new(data)],
        &cmsgs,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )?;
    Ok(())
}

/// Receive one message sent by [`send_fd`] into `buf`: its length (0 at end-of-file)
/// and the first descriptor attached, close-on-exec (any others are closed).
pub fn recv_fd(sock: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut space = nix::cmsg_space!([RawFd; 1]);
    loop {
        let mut iov = [io::IoSliceMut::new(buf)];
        let msg = match recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        {
            Err(nix::errno::Errno::EINTR) => continue,
            other => other?,
        };
        let mut fd = None;
        for c in msg.cmsgs()? {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for f in fds {
                    // Received just now: ours alone.
                    let owned = own_fd(f);
                    fd.get_or_insert(owned);
                }
            }
        }
        return Ok((msg.bytes, fd));
    }
}

/// `ioctl(SIOCSIFFLAGS)`/`SIOCSIFADDR` to bring `lo` up with 127.0.0.1/8.
pub fn loopback_up() -> io::Result<()> {
    // SAFETY: socket(2) with constant arguments.
    let s = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if s < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `s` is a new descriptor we own.
    let sock = unsafe { OwnedFd::from_raw_fd(s) };
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    let mut addr: libc::sockaddr_in = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_be_bytes([127, 0, 0, 1]).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in fits in the ifr_ifru union (sockaddr, 16 bytes).
    unsafe {
        std::ptr::copy_nonoverlapping(
            &addr as *const libc::sockaddr_in as *const u8,
            &mut req.ifr_ifru as *mut _ as *mut u8,
            std::mem::size_of::<libc::sockaddr_in>(),
        )
    };
    // SAFETY: SIOCSIFADDR reads a valid ifreq we own.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFADDR, &req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    addr.sin_addr.s_addr = u32::from_be_bytes([255, 0, 0, 0]).to_be();
    // SAFETY: as above, for the netmask.
    unsafe {
        std::ptr::copy_nonoverlapping(
            &addr as *const libc::sockaddr_in as *const u8,
            &mut req.ifr_ifru as *mut _ as *mut u8,
            std::mem::size_of::<libc::sockaddr_in>(),
        )
    };
    // SAFETY: SIOCSIFNETMASK reads a valid ifreq we own.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFNETMASK, &req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFFLAGS writes the flags into our ifreq.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: reading and writing the ifru_flags member of the union we just filled.
    unsafe {
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    }
    // SAFETY: SIOCSIFFLAGS reads a valid ifreq we own.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether SIGPIPE was ignored when hutch started (see [`ignore_sigpipe`]).
static SIGPIPE_WAS_IGNORED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Ignore SIGPIPE in hutch itself, so that a write to a pipe whose reader is gone (the
/// network helper's, the caller's `--info-fd`) is an EPIPE error it reports rather
/// than a silent death; remember the caller's disposition, which [`exec`] gives back
/// to the command.
pub fn ignore_sigpipe() {
    // SAFETY: installing SIG_IGN runs no handler code; the returned old disposition
    // is only compared.
    let old = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    SIGPIPE_WAS_IGNORED.store(old == libc::SIG_IGN, std::sync::atomic::Ordering::Relaxed);
}

/// `execvpe`-like: exec `file` (searched on `path` when it has no `/`) with the
/// given argv and environment. Returns only on failure. The command gets the SIGPIPE
/// disposition hutch's caller had (an ignored signal stays ignored across exec).
pub fn exec(file: &CString, argv: &[CString], envp: &[CString]) -> io::Error {
    if !SIGPIPE_WAS_IGNORED.load(std::sync::atomic::Ordering::Relaxed) {
        // SAFETY: restoring the default disposition runs no handler code.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let mut av: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    av.push(std::ptr::null());
    let mut ev: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    ev.push(std::ptr::null());
    // SAFETY: all pointers point into CStrings that outlive the call and both
    // arrays are NULL-terminated, as execve(2) requires.
    unsafe { libc::execve(file.as_ptr(), av.as_ptr(), ev.as_ptr()) };
    io::Error::last_os_error()
}

/// `_exit(2)`: leave a forked child without running destructors or atexit handlers.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// `isatty(3)`.
pub fn isatty(fd: RawFd) -> bool {
    // SAFETY: isatty only queries the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// The path of the terminal open on `fd`, if it is one.
pub fn ttyname(fd: RawFd) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .ok()
        .filter(|_| isatty(fd))
}

/// Install a classic BPF seccomp program (`prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER)`).
/// `program` holds whole `struct sock_filter` entries (validated by the caller).
pub fn seccomp_install(program: &[u8]) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: (program.len() / std::mem::size_of::<libc::sock_filter>()) as libc::c_ushort,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `fprog` points at `program`, which stays alive for the call and holds
    // `len` complete 8-byte sock_filter entries; the kernel copies the program.
    let ret = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &fprog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
pub const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;

/// `prctl(PR_SET_SECUREBITS)`.
pub fn set_securebits(bits: libc::c_ulong) -> io::Result<()> {
    // SAFETY: PR_SET_SECUREBITS takes an integer argument and touches no memory of ours.
    if unsafe { libc::prctl(libc::PR_SET_SECUREBITS, bits, 0, 0, 0) } < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `fork(2)`: 0 in the child, the child's pid in the parent.
///
/// hutch is single-threaded until exec, which is what makes forking sound.
pub fn fork() -> io::Result<libc::pid_t> {
    // SAFETY: the process has a single thread (no lock can be held by another
    // thread), and the child only runs hutch's own setup code before exec/_exit.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(pid)
    }
}

/// The C library's message for `errno` (`strerror_r`), e.g. "Bad file descriptor".
pub fn strerror(errno: i32) -> String {
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: the buffer is valid for its length; the XSI strerror_r that libc
    // exposes writes a NUL-terminated string into it (truncated if needed).
    let ret = unsafe { libc::strerror_r(errno, buf.as_mut_ptr(), buf.len()) };
    if ret != 0 {
        return format!("Unknown error {errno}");
    }
    // SAFETY: strerror_r succeeded, so `buf` holds a NUL-terminated string.
    unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// The kernel's Landlock ABI version: `landlock_create_ruleset(NULL, 0,
/// LANDLOCK_CREATE_RULESET_VERSION)` (landlock_create_ruleset(2)); 0 when the
/// kernel lacks Landlock or has it disabled.
pub fn landlock_abi() -> i32 {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a NULL attribute pointer, size 0 and the VERSION flag, the call
    // reads no memory of ours and only returns a number (or an error).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0 as libc::size_t,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if ret < 0 {
        0
    } else {
        ret as i32
    }
}

/// `struct clone_args` (CLONE_ARGS_SIZE_VER2: up to and including `cgroup`).
#[repr(C)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `CLONE_INTO_CGROUP` (Linux 5.7).
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `clone3(2)` with fork semantics (no new stack), the child born in the cgroup v2
/// directory `cgroup` refers to (`CLONE_INTO_CGROUP`). As [`clone_fork`]: 0 in the
/// child, the child's pid in the parent; `flags` are `CLONE_NEW*` flags.
///
/// The caller must be single-threaded, as with `fork(2)`.
pub fn clone3_into_cgroup(flags: libc::c_int, cgroup: BorrowedFd<'_>) -> io::Result<libc::pid_t> {
    let args = CloneArgs {
        flags: flags as u32 as u64 | CLONE_INTO_CGROUP,
        pidfd: 0,
        child_tid: 0,
        parent_tid: 0,
        exit_signal: libc::SIGCHLD as u64,
        stack: 0,
        stack_size: 0,
        tls: 0,
        set_tid: 0,
        set_tid_size: 0,
        cgroup: cgroup.as_raw_fd() as u64,
    };
    // SAFETY: `args` is a valid `struct clone_args` of the size passed, alive for the
    // call. With stack 0 and stack_size 0 the child continues on a copy of the parent's
    // stack, like fork(2); hutch is single-threaded until exec, so no lock can be held
    // by another thread in the child.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    check(ret).map(|pid| pid as libc::pid_t)
}

/// `pidfd_open(2)` (Linux 5.3): a descriptor that polls readable when `pid` exits.
pub fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes two integers and touches no memory of ours.
    let fd = check(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0 as libc::c_uint) })?;
    // SAFETY: a new fd returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `capset(2)` for the calling thread: all three sets at once (version 3, 64 bits).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e0, e1) = split(effective);
    let (p0, p1) = split(permitted);
    let (i0, i1) = split(inheritable);
    let data = [
        Data {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        Data {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: `header` and `data` are the kernel's `cap_user_header_t` and a
    // two-element `cap_user_data_t` array for _LINUX_CAPABILITY_VERSION_3; both
    // live for the duration of the call and are only read by the kernel.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    check(ret).map(drop)
}

/// `prctl(PR_CAPBSET_DROP, cap)`.
pub fn capbset_drop(cap: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) }
            as libc::c_long,
    )
    .map(drop)
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)`.
pub fn ambient_raise(cap: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
            cap as libc::c_ulong,
            0,
            0,
        )
    } as libc::c_long)
    .map(drop)
}

/// `pidfd_send_signal(2)` (Linux 5.1): signal the process behind a pidfd, which cannot
/// be a recycled pid.
pub fn pidfd_send_signal(pidfd: BorrowedFd<'_>, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: a NULL siginfo and flags 0 are valid; the call reads no memory of ours.
    check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_uint,
        )
    })
    .map(drop)
}

/// Make `cmd` a helper that dies with us (the network helper, see net.rs): between
/// fork and exec, set the parent-death signal to SIGKILL (prctl(2) PR_SET_PDEATHSIG;
/// exit at once if we died before that), mark every descriptor above 2 close-on-exec
/// (close_range(2) CLOSE_RANGE_CLOEXEC, Linux 5.11; older kernels keep what is not
/// already close-on-exec) and clear close-on-exec on the descriptors in `keep`, which
/// the helper inherits.
pub fn prepare_helper(cmd: &mut std::process::Command, keep: Vec<RawFd>) {
    use std::os::unix::process::CommandExt;
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: getpid takes no arguments and cannot fail.
    let parent = unsafe { libc::getpid() };
    let hook = move || -> io::Result<()> {
        // SAFETY: prctl with integer arguments only.
        if unsafe {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            )
        } != 0
        {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: getppid takes no arguments and cannot fail.
        if unsafe { libc::getppid() } != parent {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        // SAFETY: close_range with integer arguments; CLOEXEC only sets a flag.
        unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                CLOSE_RANGE_CLOEXEC,
            )
        };
        for fd in &keep {
            // SAFETY: fcntl(F_SETFD) on an integer fd; `keep` was allocated before the
            // fork and is only read here.
            if unsafe { libc::fcntl(*fd, libc::F_SETFD, 0) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook runs in the forked child before exec and only makes
    // async-signal-safe system calls (prctl, getppid, close_range, fcntl); it
    // allocates nothing (`keep` is moved in, already allocated) and takes no locks.
    unsafe {
        cmd.pre_exec(hook);
    }
}

const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

/// Mark every descriptor from 3 up close-on-exec, except those in `keep`.
/// `close_range(2)` (Linux 5.11) in one call; older kernels: one fcntl each.
pub fn cloexec_all_but(keep: &[RawFd]) -> io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets a flag on descriptors;
    // it closes nothing and touches no memory of ours.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    if ret < 0 {
        let max = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(soft, _)| soft.min(1 << 20) as RawFd)
            .unwrap_or(1024);
        for fd in 3..max {
            // SAFETY: F_SETFD on any integer is harmless: EBADF for closed ones.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
    }
    for &fd in keep {
        if fd > 2 && fd_is_open(fd) {
            // SAFETY: clears FD_CLOEXEC on a descriptor the user asked to pass on.
            if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Close every descriptor from 3 up, except those in `keep`: `close_range(2)` over
/// the gaps between them (Linux 5.9); older kernels: one close each.
pub fn close_all_but(keep: &[RawFd]) {
    let mut keep: Vec<libc::c_uint> = keep
        .iter()
        .filter(|&&fd| fd > 2)
        .map(|&fd| fd as libc::c_uint)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut ranges = Vec::new();
    let mut first: libc::c_uint = 3;
    for k in keep {
        if k > first {
            ranges.push((first, k - 1));
        }
        first = k + 1;
    }
    ranges.push((first, libc::c_uint::MAX));
    let max = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft.min(1 << 20) as libc::c_uint)
        .unwrap_or(1024);
    for (first, last) in ranges {
        // SAFETY: close_range only closes descriptors; the caller owns none in
        // [first, last] that it will use again (those are in `keep`).
        let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) };
        if ret < 0 {
            for fd in first..=last.min(max) {
                // SAFETY: as above; EBADF for a descriptor that is not open.
                unsafe { libc::close(fd as RawFd) };
            }
        }
    }
}

/// `ioctl(fd, NS_GET_USERNS)` (ioctl_ns(2), Linux 4.9): the user namespace that owns
/// the namespace `fd` refers to, as a new descriptor.
pub fn ns_get_userns(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    // _IO(0xb7, 0x1)
    const NS_GET_USERNS: libc::c_ulong = 0xb701;
    // SAFETY: this ioctl takes no argument and returns a new fd (or -1).
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_USERNS as _) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(ret) })
}

/// The signals hutch passes on to the command (`--forward-signals`, the default as hutch).
pub const FORWARDED_SIGNALS: [libc::c_int; 6] = [
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
];

/// Where [`forward_signal`] sends what it catches: a pidfd (which cannot name a recycled
/// pid once the process is reaped) and the pid, for the process-group check and for
/// kernels or seccomp filters without `pidfd_send_signal`. 0 and -1: nowhere yet.
static FORWARD_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);
static FORWARD_PIDFD: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// Block [`FORWARDED_SIGNALS`] in the calling thread; returns the mask before, which
/// [`forward_signals_to`] and [`restore_sigmask`] put back. Blocked, a signal waits
/// until there is somewhere to forward it (and the sandbox's processes, which inherit
/// the mask, keep it pending until they are ready for it).
pub fn block_forwarded_signals() -> nix::sys::signal::SigSet {
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
    let mut set = SigSet::empty();
    for sig in FORWARDED_SIGNALS {
        if let Ok(s) = Signal::try_from(sig) {
            set.add(s);
        }
    }
    let mut old = SigSet::empty();
    let _ = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old));
    old
}

/// Put back the signal mask [`block_forwarded_signals`] returned.
pub fn restore_sigmask(old: &nix::sys::signal::SigSet) {
    let _ = nix::sys::signal::pthread_sigmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(old),
        None,
    );
}

/// The handler: pass the signal on to the target, unless the target got it already.
///
/// A signal the kernel made (`SI_KERNEL`: ^C, ^\ and a hang-up on the terminal) went to
/// the whole foreground process group; a target in our process group has its own copy,
/// as in a shell, so it would get two. The exception is a hang-up that reached us as
/// the session leader: the kernel sent it to us alone.
extern "C" fn forward_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    use std::sync::atomic::Ordering::Relaxed;
    // SAFETY: __errno_location returns this thread's errno, valid for its lifetime;
    // the handler saves it and puts it back for the code it interrupted.
    let errno = unsafe { *libc::__errno_location() };
    let pid = FORWARD_PID.load(Relaxed);
    let pidfd = FORWARD_PIDFD.load(Relaxed);
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler; getpid,
    // getsid, getpgrp and getpgid are async-signal-safe system calls.
    let already_there = unsafe {
        !info.is_null()
            && (*info).si_code == libc::SI_KERNEL
            && pid > 0
            && libc::getpgid(pid) == libc::getpgrp()
            && !(sig == libc::SIGHUP && libc::getsid(0) == libc::getpid())
    };
    if pid > 0 && !already_there {
        // SAFETY: pidfd_send_signal and kill are async-signal-safe system calls with
        // integer arguments (a NULL siginfo: the kernel fills in SI_USER).
        unsafe {
            let sent = pidfd >= 0
                && libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    pidfd,
                    sig,
                    std::ptr::null::<libc::siginfo_t>(),
                    0 as libc::c_uint,
                ) == 0;
            if !sent && (pidfd < 0 || *libc::__errno_location() != libc::ESRCH) {
                libc::kill(pid, sig);
            }
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Forward [`FORWARDED_SIGNALS`] to `pid` from now on, then put back the signal mask
/// `old` (from [`block_forwarded_signals`]): what arrived meanwhile is forwarded then.
/// A signal the caller left ignored stays ignored (as a shell leaves it, and as the
/// command inherits it). With `pidfd`, through a pidfd, so that a signal arriving after
/// `pid` was reaped cannot reach another process given the same number (pid 1 does
/// without: it holds no descriptor, and it is the one that reaps `pid`).
pub fn forward_signals_to(pid: libc::pid_t, old: &nix::sys::signal::SigSet, pidfd: bool) {
    use std::sync::atomic::Ordering::Relaxed;
    let pidfd = match pidfd {
        true => pidfd_open(pid)
            .map(std::os::fd::IntoRawFd::into_raw_fd)
            .unwrap_or(-1),
        false => -1,
    };
    FORWARD_PIDFD.store(pidfd, Relaxed);
    FORWARD_PID.store(pid, Relaxed);
    for sig in FORWARDED_SIGNALS {
        // SAFETY: sigaction is plain old data; all-zero is a valid value.
        let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
        act.sa_sigaction = forward_signal
            as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
            as usize;
        act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        // SAFETY: sa_mask is ours to fill in.
        unsafe { libc::sigemptyset(&mut act.sa_mask) };
        // SAFETY: an all-zero sigaction is a valid buffer for the old disposition.
        let mut was: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: both structures are valid for the call; the handler only makes
        // async-signal-safe system calls and touches atomics.
        if unsafe { libc::sigaction(sig, &act, &mut was) } == 0 && was.sa_sigaction == libc::SIG_IGN
        {
            // SAFETY: putting back the caller's SIG_IGN runs no handler code.
            unsafe { libc::sigaction(sig, &was, std::ptr::null_mut()) };
        }
    }
    restore_sigmask(old);
}

/// The command has ended (and been reaped): forward nothing more. The handlers stay,
/// so that a late signal does not cut hutch's clean-up short.
pub fn stop_forwarding() {
    FORWARD_PID.store(0, std::sync::atomic::Ordering::Relaxed);
}

/// Whether the process behind the pidfd `fd` has exited (a pidfd polls readable then;
/// pidfd_open(2)), without waiting.
pub fn pidfd_exited(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, alive for the call; timeout 0 never blocks.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    n > 0 && pfd.revents & libc::POLLIN != 0
}

// Seccomp user notification, for the metadata supervisor of Landlock-only mode
// (src/stage/supervise.rs) and the connection watch of --allow-host/--allow-net
// (src/stage/allow.rs).

/// `SECCOMP_IOCTL_NOTIF_RECV` and `_SEND` (`_IOWR('!', 0..1, ...)`), and `_ID_VALID` as
/// Linux 5.0 defined it (`_IOR('!', 2, u64)`), which later kernels still accept.
const SECCOMP_IOCTL_NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const SECCOMP_IOCTL_NOTIF_SEND: libc::c_ulong = 0xc018_2101;
const SECCOMP_IOCTL_NOTIF_ID_VALID: libc::c_ulong = 0x8008_2102;

/// The sizes of the kernel's notification structures; `None` before Linux 5.0
/// (no user notification).
pub fn seccomp_notif_sizes() -> Option<(usize, usize)> {
    let mut sizes = libc::seccomp_notif_sizes {
        seccomp_notif: 0,
        seccomp_notif_resp: 0,
        seccomp_data: 0,
    };
    // SAFETY: SECCOMP_GET_NOTIF_SIZES writes one `struct seccomp_notif_sizes`,
    // which `sizes` is, alive for the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_NOTIF_SIZES,
            0 as libc::c_uint,
            &mut sizes as *mut libc::seccomp_notif_sizes,
        )
    };
    (ret == 0).then_some((
        usize::from(sizes.seccomp_notif),
        usize::from(sizes.seccomp_notif_resp),
    ))
}

/// Install a classic BPF program with SECCOMP_FILTER_FLAG_NEW_LISTENER: the
/// listener fd (close-on-exec) for the calls it returns SECCOMP_RET_USER_NOTIF for.
pub fn seccomp_install_listener(program: &[u8]) -> io::Result<OwnedFd> {
    let fprog = libc::sock_fprog {
        len: (program.len() / std::mem::size_of::<libc::sock_filter>()) as libc::c_ushort,
        filter: program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `fprog` points at `program`, alive for the call, holding `len` whole
    // sock_filter entries; the kernel copies the program and returns a new fd.
    let fd = check(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            &fprog as *const libc::sock_fprog,
        )
    })?;
    // SAFETY: a new fd returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// One notification: `struct seccomp_notif` with its `struct seccomp_data`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeccompNotif {
    pub id: u64,
    pub pid: u32,
    pub nr: i32,
    pub arch: u32,
    pub args: [u64; 6],
}

/// `SECCOMP_IOCTL_NOTIF_RECV`: wait for the next notification. `size` is the
/// kernel's `seccomp_notif` size (at least the 80 bytes read here).
pub fn seccomp_notif_recv(listener: BorrowedFd<'_>, size: usize) -> io::Result<SeccompNotif> {
    // u64s: the structure's alignment. The kernel wants it zeroed.
    let mut buf = vec![0u64; size.max(80).div_ceil(8)];
    // SAFETY: `buf` holds at least the kernel's `struct seccomp_notif` (its size
    // from SECCOMP_GET_NOTIF_SIZES), zeroed, aligned, alive for the call.
    let ret = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            SECCOMP_IOCTL_NOTIF_RECV,
            buf.as_mut_ptr(),
        )
    };
    check(ret as libc::c_long)?;
    // The layout: id u64; pid u32, flags u32; nr i32, arch u32; ip u64; args [u64; 6].
    let mut args = [0u64; 6];
    args.copy_from_slice(&buf[4..10]);
    Ok(SeccompNotif {
        id: buf[0],
        pid: buf[1] as u32,
        nr: buf[2] as u32 as i32,
        arch: (buf[2] >> 32) as u32,
        args,
    })
}

/// `SECCOMP_IOCTL_NOTIF_SEND`: the call returns `val`, or fails with `errno` if non-zero.
pub fn seccomp_notif_send(
    listener: BorrowedFd<'_>,
    id: u64,
    val: i64,
    errno: i32,
) -> io::Result<()> {
    notif_respond(listener, id, val, errno, 0)
}

/// `SECCOMP_IOCTL_NOTIF_SEND` with SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5): the
/// kernel performs the call as if it had not been stopped.
pub fn seccomp_notif_continue(listener: BorrowedFd<'_>, id: u64) -> io::Result<()> {
    notif_respond(listener, id, 0, 0, 1)
}

fn notif_respond(
    listener: BorrowedFd<'_>,
    id: u64,
    val: i64,
    errno: i32,
    flags: u32,
) -> io::Result<()> {
    #[repr(C)]
    struct Resp {
        id: u64,
        val: i64,
        error: i32,
        flags: u32,
    }
    let mut resp = Resp {
        id,
        val,
        error: -errno,
        flags,
    };
    // SAFETY: `resp` is the kernel's `struct seccomp_notif_resp`, alive for the call.
    let ret = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp as *mut Resp,
        )
    };
    check(ret as libc::c_long).map(drop)
}

/// `SECCOMP_IOCTL_NOTIF_ID_VALID`: whether the notification's caller still waits
/// (its pid, and what was read of it, still mean that process).
pub fn seccomp_notif_id_valid(listener: BorrowedFd<'_>, id: u64) -> bool {
    let mut id = id;
    // SAFETY: the ioctl reads one u64, `id`, alive for the call.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            SECCOMP_IOCTL_NOTIF_ID_VALID,
            &mut id as *mut u64,
        ) == 0
    }
}

/// `pidfd_getfd(2)` (Linux 5.6): a duplicate of the fd `fd` of the process `pidfd`
/// stands for (close-on-exec), with the access of ptrace.
pub fn pidfd_getfd(pidfd: BorrowedFd<'_>, fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_getfd takes three integers and touches no memory of ours.
    let new = check(unsafe {
        libc::syscall(
            libc::SYS_pidfd_getfd,
            pidfd.as_raw_fd(),
            fd,
            0 as libc::c_uint,
        )
    })?;
    // SAFETY: a new fd returned by the kernel, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new as RawFd) })
}

/// Whether the kernel has `pidfd_getfd(2)` (Linux 5.6; then also
/// SECCOMP_USER_NOTIF_FLAG_CONTINUE, 5.5): an invalid pidfd gets EBADF, not ENOSYS.
pub fn pidfd_getfd_available() -> bool {
    // SAFETY: three integers; with fd -1 the kernel fails before touching anything.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_getfd, -1, 0, 0 as libc::c_uint) };
    ret < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
}

/// `getsockopt(2)` of an int option (SO_TYPE, SO_PROTOCOL...).
pub fn getsockopt_int(fd: BorrowedFd<'_>, level: libc::c_int, opt: libc::c_int) -> io::Result<i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are an int and its size, alive for the call, which
    // writes at most `len` bytes into `v`.
    let ret = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            &mut v as *mut libc::c_int as *mut libc::c_void,
            &mut len,
        )
    };
    check(ret as libc::c_long).map(|_| v)
}

/// `process_vm_readv(2)`: read another process's memory at `addr` into `buf`;
/// the bytes read (fewer at an unmapped page).
pub fn read_process(pid: libc::pid_t, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as usize as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` describes `buf`, writable and alive for the call; `remote`
    // is only an address in the other process, which the kernel checks.
    let ret = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    check(ret as libc::c_long).map(|n| n as usize)
}

/// `utimensat(2)`; `times` `None` is the current time, `empty_path` adds AT_EMPTY_PATH.
pub fn utimensat(
    dirfd: RawFd,
    path: &std::ffi::CStr,
    times: Option<&[libc::timespec; 2]>,
    flags: libc::c_int,
) -> io::Result<()> {
    let times = times.map_or(std::ptr::null(), |t| t.as_ptr());
    // SAFETY: `path` is NUL-terminated and `times` null or two timespecs, both
    // alive for the call; the kernel only reads them.
    let ret = unsafe { libc::utimensat(dirfd, path.as_ptr(), times, flags) };
    check(ret as libc::c_long).map(drop)
}

/// `setxattr(2)` (follows symlinks, as `path` is /proc/self/fd/N).
pub fn setxattr(
    path: &std::ffi::CStr,
    name: &std::ffi::CStr,
    value: &[u8],
    flags: i32,
) -> io::Result<()> {
    // SAFETY: `path` and `name` are NUL-terminated, `value` valid for its length,
    // all alive for the call and only read.
    let ret = unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr() as *const libc::c_void,
            value.len(),
            flags,
        )
    };
    check(ret as libc::c_long).map(drop)
}

/// What a call that fills a buffer returns, with the buffer grown while it says
/// ERANGE (too small), up to 16 MiB.
fn fill_growing(mut call: impl FnMut(&mut [u8]) -> libc::ssize_t) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    loop {
        match check(call(&mut buf) as libc::c_long) {
            Ok(n) => {
                buf.truncate(n as usize);
                return Ok(buf);
            }
            Err(e) if e.raw_os_error() == Some(libc::ERANGE) && buf.len() < 1 << 24 => {
                buf.resize(buf.len() * 4, 0)
            }
            Err(e) => return Err(e),
        }
    }
}

/// The extended attribute names of the file open as `fd` (`flistxattr(2)`); none
/// where the file system has no extended attributes.
pub fn flistxattr(fd: BorrowedFd<'_>) -> io::Result<Vec<std::ffi::CString>> {
    let list = fill_growing(|buf| {
        // SAFETY: `buf` is writable for its length, alive for the call.
        unsafe {
            libc::flistxattr(
                fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_char,
                buf.len(),
            )
        }
    });
    let list = match list {
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(Vec::new()),
        r => r?,
    };
    Ok(list
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .filter_map(|n| std::ffi::CString::new(n).ok())
        .collect())
}

/// The value of the extended attribute `name` of the file open as `fd` (`fgetxattr(2)`).
pub fn fgetxattr(fd: BorrowedFd<'_>, name: &std::ffi::CStr) -> io::Result<Vec<u8>> {
    fill_growing(|buf| {
        // SAFETY: `name` is NUL-terminated and `buf` writable for its length, both
        // alive for the call.
        unsafe {
            libc::fgetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        }
    })
}

/// `fsetxattr(2)`: set the extended attribute `name` of the file open as `fd`.
pub fn fsetxattr(fd: BorrowedFd<'_>, name: &std::ffi::CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated, `value` valid for its length, both alive
    // for the call and only read.
    let ret = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr() as *const libc::c_void,
            value.len(),
            0,
        )
    };
    check(ret as libc::c_long).map(drop)
}

/// `removexattr(2)`.
pub fn removexattr(path: &std::ffi::CStr, name: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: both NUL-terminated, alive for the call and only read.
    let ret = unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) };
    check(ret as libc::c_long).map(drop)
}

/// `ioctl(fd, TIOCSCTTY, 0)`: the terminal `fd` becomes the controlling terminal of
/// the calling process's session (the OCI runtime's console, src/oci/runtime.rs).
pub fn set_controlling_tty(fd: RawFd) -> io::Result<()> {
    // SAFETY: TIOCSCTTY takes an integer argument and touches no memory of ours.
    check(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } as libc::c_long).map(drop)
}

/// `ioctl(fd, TIOCSWINSZ)`: the terminal's window size, in rows and columns (the OCI
/// runtime's `process.consoleSize`).
pub fn set_window_size(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a `struct winsize`, which `ws` is and outlives the call.
    check(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws as *const libc::winsize) } as libc::c_long)
        .map(drop)
}

pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_ATIME: u64 = 0x70;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;

/// `mount_setattr(2)` on the mount `fd` refers to, with attributes set and cleared and
/// a propagation type (`MS_PRIVATE`, `MS_SLAVE`, or 0 to keep it).
pub fn mount_setattr_full(
    fd: BorrowedFd<'_>,
    set: u64,
    clear: u64,
    propagation: u64,
    recursive: bool,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clear,
        propagation,
        userns_fd: 0,
    };
    let flags = libc::AT_EMPTY_PATH as u32 | if recursive { AT_RECURSIVE } else { 0 };
    let empty = c"";
    // SAFETY: `attr` is a properly laid out `struct mount_attr` (version 0, 32 bytes)
    // that lives for the duration of the call; the size argument matches it.
    check(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })
    .map(drop)
}
