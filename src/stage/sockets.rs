//! Host pathname unix sockets: unreachable from the sandbox unless granted
//! (`--host-sockets block`, the default as hutch; `--allow-socket PATH`).
//!
//! A read-only bind does not stop `connect(2)` (it needs write permission on the
//! socket inode, not a writable mount), so the session bus, docker.sock or an
//! ssh-agent stay reachable through `--ro-bind / /`. Landlock refuses it only from
//! LANDLOCK_ACCESS_FS_RESOLVE_UNIX (ABI 9; hutch targets ABI 7, and this is not
//! testable on the machines it is built on), so on every kernel the mount plan does it:
//!
//! 1. before the root is built, the host's bound sockets are listed with sock_diag,
//!    on a socket the monitor made in the caller's network namespace (listening and
//!    unconnected ones, each with the inode of its file), or where the kernel has no
//!    unix_diag from `/proc/MONITOR/net/unix` (then each path is stat'ed); the
//!    directory of each name is made canonical (once per directory);
//! 2. after the last op, each one is mapped through every bind (source prefix to
//!    destination) into the new root; where the thing at that path is the same
//!    socket inode, an empty read-only file is bound over it, so that `connect`
//!    and `sendto` find no socket there (ECONNREFUSED). Granted sockets (by inode)
//!    and sockets beneath a granted directory are left alone.
//!
//! Linear: one dump, one lookup per (socket, bind whose source contains it), one
//! bind per socket masked: about 10-14 µs per host socket in view (README.md).
//! What it does not cover is listed in [`NOT_COVERED`] (and `--report` says it).

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::mounts::Root;
use crate::spec::Op;

/// What the masking leaves open, for `--report` and `--explain`.
pub const NOT_COVERED: &[&str] = &[
    "sockets bound after the sandbox started",
    "sockets bound in another network namespace than the caller's",
    "sockets bound with a relative path",
    "other names of a socket than the one it was bound at (hard links, host binds)",
    "sockets under an overlay mount",
    "a command with CAP_SYS_ADMIN and no seccomp policy against umount2 (it can unmount the masks)",
];

/// One socket bound on the host: its canonical path and its inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSocket {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
}

/// The host's bound pathname sockets, read before the root is built.
#[derive(Debug, Default)]
pub struct HostSockets {
    pub sockets: Vec<HostSocket>,
    /// Names that are not absolute paths: where they are cannot be known.
    pub relative: usize,
}

/// The names in `/proc/net/unix` content: absolute paths (each once), and how many
/// distinct relative ones. Abstract names (`@...`) and unbound sockets are skipped:
/// Landlock's scoping covers the abstract ones.
pub fn parse_proc_net_unix(data: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut seen = HashSet::new();
    let mut paths = Vec::new();
    let mut relative = 0;
    // "Num RefCount Protocol Flags Type St Inode Path": the path, which may hold
    // spaces, is everything after the seventh field and one space.
    for line in data.split(|c| *c == b'\n').skip(1) {
        let mut rest = line;
        for _ in 0..7 {
            let start = rest.iter().position(|c| *c != b' ').unwrap_or(rest.len());
            rest = &rest[start..];
            let end = rest.iter().position(|c| *c == b' ').unwrap_or(rest.len());
            rest = &rest[end..];
        }
        let Some(name) = rest.strip_prefix(b" ") else {
            continue;
        };
        if name.is_empty() || name[0] == b'@' || !seen.insert(name) {
            continue;
        }
        if name[0] == b'/' {
            paths.push(name);
        } else {
            relative += 1;
        }
    }
    (paths, relative)
}

/// A `NETLINK_SOCK_DIAG` socket, made by the monitor before the child exists so that
/// it belongs to the caller's network namespace (the child's may be new already).
pub fn diag_socket() -> Option<OwnedFd> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockProtocol, SockType};
    socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkSockDiag,
    )
    .ok()
}

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_VFS: u16 = 1;

/// One bound socket as sock_diag gives it: its name and the inode of its file
/// (the kernel's `dev_t`, major << 20 | minor).
#[derive(Debug, PartialEq, Eq)]
struct Diag {
    name: Vec<u8>,
    dev: u32,
    ino: u32,
}

/// Ask sock_diag for every unix socket listening or unconnected (the ones a
/// `connect` or `sendto` can reach) with its name and file inode: unlike
/// /proc/net/unix, the kernel skips the connections (a session bus has hundreds,
/// each named like the bus) and formats nothing.
fn dump(fd: BorrowedFd<'_>) -> std::io::Result<Vec<Diag>> {
    use nix::sys::socket::{recv, send, MsgFlags};
    const TCP_CLOSE: u32 = 7;
    const TCP_LISTEN: u32 = 10;
    let mut req = Vec::with_capacity(40);
    req.extend(40u32.to_ne_bytes()); // nlmsg_len
    req.extend(SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend((libc::NLM_F_REQUEST as u16 | libc::NLM_F_DUMP as u16).to_ne_bytes());
    req.extend(1u32.to_ne_bytes()); // seq
    req.extend(0u32.to_ne_bytes()); // pid
    req.extend([libc::AF_UNIX as u8, 0, 0, 0]); // family, protocol, pad
    req.extend((1u32 << TCP_LISTEN | 1 << TCP_CLOSE).to_ne_bytes());
    req.extend(0u32.to_ne_bytes()); // ino
    req.extend(3u32.to_ne_bytes()); // UDIAG_SHOW_NAME | UDIAG_SHOW_VFS
    req.extend([0u8; 8]); // cookie
    send(fd.as_raw_fd(), &req, MsgFlags::empty())?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 32 << 10];
    loop {
        let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
        if n == 0 {
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        if parse_dump(&buf[..n], &mut out)? {
            return Ok(out);
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The messages in one datagram of the dump; true once it is done.
fn parse_dump(mut b: &[u8], out: &mut Vec<Diag>) -> std::io::Result<bool> {
    let bad = || std::io::Error::from_raw_os_error(libc::EBADMSG);
    while b.len() >= 16 {
        let len = u32_at(b, 0) as usize;
        if len < 16 || len > b.len() {
            return Err(bad());
        }
        let (msg, body) = (&b[..len], &b[16..len]);
        match u16_at(msg, 4) {
            NLMSG_DONE => return Ok(true),
            NLMSG_ERROR => {
                let errno = if body.len() >= 4 {
                    -(u32_at(body, 0) as i32)
                } else {
                    libc::EIO
                };
                return Err(std::io::Error::from_raw_os_error(errno));
            }
            SOCK_DIAG_BY_FAMILY if body.len() >= 16 => {
                // struct unix_diag_msg (16 bytes), then attributes.
                let (mut name, mut vfs) = (None, None);
                let mut a = &body[16..];
                while a.len() >= 4 {
                    let alen = u16_at(a, 0) as usize;
                    if alen < 4 || alen > a.len() {
                        return Err(bad());
                    }
                    let data = &a[4..alen];
                    match u16_at(a, 2) {
                        // The name as bound: a pathname may end in NULs.
                        UNIX_DIAG_NAME => {
                            let end = match data.first() {
                                Some(0) => data.len(),
                                _ => data.iter().position(|c| *c == 0).unwrap_or(data.len()),
                            };
                            name = Some(&data[..end])
                        }
                        UNIX_DIAG_VFS if data.len() >= 8 => {
                            vfs = Some((u32_at(data, 4), u32_at(data, 0)))
                        }
                        _ => {}
                    }
                    a = &a[((alen + 3) & !3).min(a.len())..];
                }
                if let (Some(name), Some((dev, ino))) = (name, vfs) {
                    out.push(Diag {
                        name: name.to_vec(),
                        dev,
                        ino,
                    });
                }
            }
            _ => {}
        }
        b = &b[((len + 3) & !3).min(b.len())..];
    }
    Ok(false)
}

/// Read the host's sockets, before the root is built, in the host's view: from
/// sock_diag on `diag` (made in the caller's network namespace), or where that is
/// missing (no unix_diag in the kernel) from `/proc/MONITOR/net/unix` (the monitor
/// stays in the caller's network namespace). Names are made canonical (their
/// directories, once each); only what is a socket file is kept.
pub fn read_host(diag: Option<BorrowedFd<'_>>, monitor: i32) -> Result<HostSockets> {
    let listed = diag.and_then(|fd| {
        crate::fault::hit_io(crate::fault::Step::SocketList)
            .and_then(|()| dump(fd))
            .ok()
    });
    if let Some(list) = listed {
        let mut parents: HashMap<PathBuf, Option<PathBuf>> = HashMap::new();
        let mut out = HostSockets::default();
        for d in list {
            if d.name.first() != Some(&b'/') {
                out.relative += usize::from(d.name.first().is_some_and(|c| *c != 0));
                continue;
            }
            let p = Path::new(OsStr::from_bytes(&d.name));
            let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
                continue;
            };
            let dir = parents
                .entry(parent.to_path_buf())
                .or_insert_with(|| std::fs::canonicalize(parent).ok());
            let Some(dir) = dir else { continue };
            // The kernel's dev_t (major << 20 | minor) as stat(2) gives it.
            let dev = libc::makedev(d.dev >> 20, d.dev & 0xf_ffff);
            out.sockets.push(HostSocket {
                path: dir.join(name),
                dev,
                ino: d.ino as u64,
            });
        }
        return Ok(out);
    }
    let file = format!("/proc/{monitor}/net/unix");
    let data = std::fs::read(&file).map_err(|e| {
        crate::error::Error::io(
            format!("--host-sockets block: can't list the host's sockets: {file}"),
            e,
        )
        .with_hint(" (--host-sockets allow runs without this protection)")
    })?;
    let (paths, relative) = parse_proc_net_unix(&data);
    let mut parents: HashMap<&Path, Option<PathBuf>> = HashMap::new();
    let mut inodes = HashSet::new();
    let mut sockets = Vec::new();
    for p in paths {
        let p = Path::new(OsStr::from_bytes(p));
        let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
            continue;
        };
        let dir = parents
            .entry(parent)
            .or_insert_with(|| std::fs::canonicalize(parent).ok());
        let Some(dir) = dir else { continue };
        let path = dir.join(name);
        let Ok(st) = nix::sys::stat::lstat(&path) else {
            continue;
        };
        if st.st_mode & libc::S_IFMT != libc::S_IFSOCK || !inodes.insert((st.st_dev, st.st_ino)) {
            continue;
        }
        sockets.push(HostSocket {
            path,
            dev: st.st_dev,
            ino: st.st_ino,
        });
    }
    Ok(HostSockets { sockets, relative })
}

/// The binds of the plan that show host paths: (canonical source, destination).
pub fn binds<'a>(ops: &'a [Op], sources: &'a [Option<PathBuf>]) -> Vec<(&'a Path, &'a Path)> {
    ops.iter()
        .zip(sources)
        .filter_map(|(op, src)| match (op, src) {
            (Op::Bind { dest, .. } | Op::BindFd { dest, .. }, Some(src)) => {
                Some((src.as_path(), dest.as_path()))
            }
            _ => None,
        })
        .collect()
}

/// Where the host path `p` may appear in the sandbox: once per bind whose source
/// contains it (a later op may have covered it; the caller checks the inode).
pub fn candidates(p: &Path, binds: &[(&Path, &Path)]) -> Vec<PathBuf> {
    binds
        .iter()
        .filter_map(|(src, dest)| {
            let rest = p.strip_prefix(src).ok()?;
            Some(if rest.as_os_str().is_empty() {
                dest.to_path_buf()
            } else {
                dest.join(rest)
            })
        })
        .collect()
}

/// What the masking did, for `--report`.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// The host's pathname sockets listed (distinct inodes).
    pub listed: usize,
    /// Sandbox paths masked.
    pub masked: usize,
    /// Sandbox paths left reachable because a grant names them.
    pub granted: usize,
    /// Names in /proc/net/unix that are not absolute (not placed).
    pub relative: usize,
}

/// Mask every host socket that the finished plan shows, except the granted ones
/// (`allow`: paths as seen inside; a socket, or a directory for every socket
/// beneath it). Called after the last op, before the pivot.
pub fn mask(
    root: &mut Root,
    host: &HostSockets,
    binds: &[(&Path, &Path)],
    allow: &[PathBuf],
) -> Result<Outcome> {
    let mut out = Outcome {
        listed: host.sockets.len(),
        relative: host.relative,
        ..Outcome::default()
    };
    if host.sockets.is_empty() {
        return Ok(out);
    }
    // Grants, resolved inside the new root (symlinks followed there): a socket's
    // inode, or a directory's canonical path. A missing one grants nothing.
    let mut granted_inodes = HashSet::new();
    let mut granted_dirs = Vec::new();
    for a in allow {
        let Ok(fd) = root.find(a, true) else { continue };
        let Ok(st) = nix::sys::stat::fstat(fd.as_fd()) else {
            continue;
        };
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            granted_dirs.extend(root.inside_path(fd.as_fd()));
        } else {
            granted_inodes.insert((st.st_dev, st.st_ino));
        }
    }
    let mut seen = HashSet::new();
    for s in &host.sockets {
        for cand in candidates(&s.path, binds) {
            if !seen.insert(cand.clone()) {
                continue;
            }
            let Ok(fd) = root.find(&cand, false) else {
                continue;
            };
            let Ok(st) = nix::sys::stat::fstat(fd.as_fd()) else {
                continue;
            };
            if st.st_mode & libc::S_IFMT != libc::S_IFSOCK
                || (st.st_dev, st.st_ino) != (s.dev, s.ino)
            {
                continue;
            }
            let granted = granted_inodes.contains(&(s.dev, s.ino))
                || (!granted_dirs.is_empty()
                    && root
                        .inside_path(fd.as_fd())
                        .is_some_and(|p| granted_dirs.iter().any(|d| p.starts_with(d))));
            if granted {
                out.granted += 1;
                continue;
            }
            root.mask(fd.as_fd(), &cand)?;
            out.masked += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_unix_names() {
        let data = b"Num       RefCount Protocol Flags    Type St Inode Path\n\
0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/user/1000/bus\n\
0000000000000000: 00000003 00000000 00000000 0001 03 12346 /run/user/1000/bus\n\
0000000000000000: 00000002 00000000 00010000 0001 01  2222 @/tmp/.X11-unix/X0\n\
0000000000000000: 00000002 00000000 00000000 0002 01    33\n\
0000000000000000: 00000002 00000000 00010000 0001 01 44444 /tmp/a b/docker.sock\n\
0000000000000000: 00000002 00000000 00010000 0001 01 44445 relative.sock\n";
        let (paths, relative) = parse_proc_net_unix(data);
        assert_eq!(
            paths,
            vec![&b"/run/user/1000/bus"[..], b"/tmp/a b/docker.sock"]
        );
        assert_eq!(relative, 1);
        assert_eq!(parse_proc_net_unix(b""), (vec![], 0));
    }

    /// One datagram of a sock_diag dump: a listener with its name (NUL-terminated, as
    /// python binds) and inode, one without a file (no VFS attribute), then DONE.
    #[test]
    fn sock_diag_dump() {
        fn msg(kind: u16, body: &[u8]) -> Vec<u8> {
            let mut m = ((16 + body.len()) as u32).to_ne_bytes().to_vec();
            m.extend(kind.to_ne_bytes());
            m.extend([0u8; 10]);
            m.extend(body);
            while m.len() % 4 != 0 {
                m.push(0);
            }
            m
        }
        fn attr(kind: u16, data: &[u8]) -> Vec<u8> {
            let mut a = ((4 + data.len()) as u16).to_ne_bytes().to_vec();
            a.extend(kind.to_ne_bytes());
            a.extend(data);
            while a.len() % 4 != 0 {
                a.push(0);
            }
            a
        }
        let mut vfs = 10011725u32.to_ne_bytes().to_vec();
        vfs.extend((254u32 << 20).to_ne_bytes());
        let mut one = vec![1u8, 1, 10, 0];
        one.extend([0u8; 12]);
        one.extend(attr(UNIX_DIAG_NAME, b"/run/a b/bus\0"));
        one.extend(attr(UNIX_DIAG_VFS, &vfs));
        let mut two = vec![1u8, 1, 10, 0];
        two.extend([0u8; 12]);
        two.extend(attr(UNIX_DIAG_NAME, b"/run/accepted"));
        let mut data = msg(SOCK_DIAG_BY_FAMILY, &one);
        data.extend(msg(SOCK_DIAG_BY_FAMILY, &two));
        let mut out = Vec::new();
        assert!(!parse_dump(&data, &mut out).unwrap());
        assert!(parse_dump(&msg(NLMSG_DONE, &[0; 4]), &mut out).unwrap());
        assert_eq!(
            out,
            vec![Diag {
                name: b"/run/a b/bus".to_vec(),
                dev: 254 << 20,
                ino: 10011725
            }]
        );
        let err = parse_dump(&msg(NLMSG_ERROR, &(-libc::ENOENT).to_ne_bytes()), &mut out);
        assert_eq!(err.unwrap_err().raw_os_error(), Some(libc::ENOENT));
        assert!(parse_dump(&[40, 0, 0, 0, 20, 0], &mut out).is_ok_and(|done| !done));
        assert!(parse_dump(&msg(SOCK_DIAG_BY_FAMILY, &[0; 3])[..16], &mut out).is_err());
    }

    #[test]
    fn candidates_follow_the_binds() {
        let binds = [
            (Path::new("/"), Path::new("/")),
            (Path::new("/run/user/1000"), Path::new("/xdg")),
            (Path::new("/run/user/1000/bus"), Path::new("/bus")),
            (Path::new("/usr"), Path::new("/usr")),
        ];
        assert_eq!(
            candidates(Path::new("/run/user/1000/bus"), &binds),
            vec![
                PathBuf::from("/run/user/1000/bus"),
                PathBuf::from("/xdg/bus"),
                PathBuf::from("/bus")
            ]
        );
        assert_eq!(
            candidates(Path::new("/run/user/10000/bus"), &binds[1..]),
            Vec::<PathBuf>::new()
        );
    }
}
