//! User namespace id maps, written with std: no setuid helper is ever needed.

use std::io::{self, Write};
use std::os::fd::BorrowedFd;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// One id map line: `inside outside count`.
pub fn map_line(inside: u32, outside: u32) -> String {
    format!("{inside} {outside} 1\n")
}

/// Write `setgroups` (deny), then `uid_map` and `gid_map` in `proc_dir`, a
/// descriptor of the process's `/proc/<pid>` directory (opened while the host's
/// /proc was reachable, so this also works after the root has changed).
///
/// An unprivileged process may map exactly its own ids, once, and only after
/// denying setgroups (user_namespaces(7)).
pub fn write_maps(proc_dir: BorrowedFd<'_>, uid: (u32, u32), gid: (u32, u32)) -> io::Result<()> {
    let write = |name: &str, data: &str| -> io::Result<()> {
        let fd = nix::fcntl::openat(
            proc_dir,
            name,
            OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        std::fs::File::from(fd).write_all(data.as_bytes())
    };
    match write("setgroups", "deny") {
        Ok(()) => {}
        // Kernels before 3.19 have no setgroups file; nothing to deny there.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    write("uid_map", &map_line(uid.0, uid.1))?;
    write("gid_map", &map_line(gid.0, gid.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines() {
        assert_eq!(map_line(0, 1000), "0 1000 1\n");
        assert_eq!(map_line(4294967294, 65534), "4294967294 65534 1\n");
    }

    #[test]
    fn writes_into_a_fake_proc_dir() {
        use std::os::fd::AsFd;
        let dir = tempfile::tempdir().unwrap();
        for f in ["setgroups", "uid_map", "gid_map"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let fd = std::fs::File::open(dir.path()).unwrap();
        write_maps(fd.as_fd(), (5, 1000), (6, 1001)).unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
        assert_eq!(read("setgroups"), "deny");
        assert_eq!(read("uid_map"), "5 1000 1\n");
        assert_eq!(read("gid_map"), "6 1001 1\n");
    }
}
